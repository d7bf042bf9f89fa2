"""Training throughput (forward + backward + SGD step, batch 128, channels_last) of the QCFS
network in fp32 and in bf16 autocast, on random inputs; no data needed.

    training/.venv/bin/python training/bench_train_step.py --threads 2 --widths 64,160,256 64,256,256
"""
import argparse
import time

import torch
import torch.nn.functional as F

from model import POOLS, Net


def images_per_second(widths, precision, pool, batch=128, rounds=10, warmup=3):
    net = Net(widths=widths, levels=8, pool=pool).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(net(x).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    started = time.time()
    for _ in range(rounds):
        step()
    return rounds * batch / (time.time() - started)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--widths", nargs="+", default=["64,160,256"], help="one or more width lists")
    p.add_argument("--pool", choices=POOLS, default="after", help="the block layout (model.Net); v1-v4 used before")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for w in args.widths:
        widths = tuple(int(c) for c in w.split(","))
        rates = {prec: images_per_second(widths, prec, args.pool) for prec in ("fp32", "bf16")}
        print(f"widths {w}: fp32 {rates['fp32']:.0f} img/s, bf16 {rates['bf16']:.0f} img/s "
              f"({rates['bf16'] / rates['fp32']:.2f}x), pool {args.pool}, {args.threads} threads", flush=True)


if __name__ == "__main__":
    main()
