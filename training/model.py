"""The compact QCFS network (airbench-style, average pooling only) used for training.

Layout, with one QCFS activation (an IF layer after conversion) after each `act`:
    whiten: conv2x2 3->24 (frozen patch-whitening weights, trainable bias) -> act
    block(w): conv3x3 -> BN -> act -> avgpool2 -> conv3x3 -> BN -> act   for w in widths
    head: global average pool -> linear (10 classes)
residual=True adds an identity shortcut to each block (pool="after" only): the second conv's
output plus the block's pooled first activation feed its second activation,
    block(w): p = avgpool2(act(BN(conv3x3(x)))) ;  act(BN(conv3x3(p)) + p)
a residual network with the same parameters and MACs as the chain (exported by
training/export_torch.py, where the chain uses export.fold).
pool="before" is the v1-v4 block (conv3x3 -> avgpool2 -> BN -> act -> ...), kept so that their
checkpoints still load: pooling the currents before the activation made each block's first
conv+pool one linear map and cost 1.4 points of quantized-ANN validation accuracy (v4 against
v5, training/README.md).
"""
import torch
from torch import nn


class FloorSTE(torch.autograd.Function):
    """floor() with a straight-through gradient (QCFS)."""

    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class QCFS(nn.Module):
    """h(z) = lambda/L * clip(floor(z L / lambda + 1/2), 0, L), lambda trainable."""

    def __init__(self, levels: int, threshold: float = 3.0):
        super().__init__()
        self.levels = levels
        self.threshold = nn.Parameter(torch.tensor([threshold]))

    def forward(self, z):
        x = torch.clamp(z / self.threshold, 0, 1)
        return FloorSTE.apply(x * self.levels + 0.5) / self.levels * self.threshold


def conv_bn(c_in, c_out, pool):
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.AvgPool2d(2))
    layers.append(nn.BatchNorm2d(c_out))
    return layers


POOLS = ("before", "after")


class ResidualBlock(nn.Module):
    """conv3x3-BN-act-avgpool2, then conv3x3-BN plus the pooled activation (identity shortcut), act."""

    def __init__(self, c_in, width, levels):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        self.act1, self.pool = QCFS(levels), nn.AvgPool2d(2)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)
        self.act2 = QCFS(levels)

    def forward(self, x):
        p = self.pool(self.act1(self.bn1(self.conv1(x))))
        return self.act2(self.bn2(self.conv2(p)) + p)


class Net(nn.Module):
    def __init__(self, widths, levels, whiten_width=24, pool="after", residual=False):
        super().__init__()
        assert pool in POOLS and not (residual and pool == "before")
        self.levels = levels
        self.pool = pool
        self.residual = residual
        self.whiten = nn.Conv2d(3, whiten_width, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        body = [self.whiten, QCFS(levels)]
        c_in = whiten_width
        for w in widths:
            if residual:
                body.append(ResidualBlock(c_in, w, levels))
                c_in = w
                continue
            if pool == "before":
                body += conv_bn(c_in, w, pool=True) + [QCFS(levels)]
            else:
                body += conv_bn(c_in, w, pool=False) + [QCFS(levels), nn.AvgPool2d(2)]
            body += conv_bn(w, w, pool=False) + [QCFS(levels)]
            c_in = w
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(c_in, 10)

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "Net":
        """The network saved by train.py (checkpoints before v5 have no "pool": they pooled before)."""
        run = ckpt["training"]
        net = cls(widths=tuple(run["widths"]), levels=run["levels"], pool=run.get("pool", "before"),
                  residual=run.get("residual", False))
        net.load_state_dict(ckpt["state"])
        return net

    def forward(self, x):
        x = self.body(x)
        return self.head(x.mean(dim=(2, 3)))

    def activations(self):
        return [m for m in self.body.modules() if isinstance(m, QCFS)]

    @torch.no_grad()
    def init_whitening(self, images: torch.Tensor, eps=5e-4):
        """Patch-whitening first layer (airbench): eigenvectors of the 2x2 patch covariance,
        scaled by 1/sqrt(eigenvalue), with both signs so a rectifier keeps all directions."""
        c = images.shape[1]
        patches = images.unfold(2, 2, 1).unfold(3, 2, 1).transpose(1, 3).reshape(-1, c * 4).double()
        patches = patches - patches.mean(0)
        cov = patches.T @ patches / len(patches)
        eigvals, eigvecs = torch.linalg.eigh(cov)
        filters = (eigvecs.T / torch.sqrt(eigvals + eps)[:, None]).reshape(-1, c, 2, 2).flip(0)
        half = self.whiten.out_channels // 2
        self.whiten.weight.copy_(torch.cat([filters[:half], -filters[:half]]).float())
        self.whiten.bias.zero_()

    @torch.no_grad()
    def init_thresholds(self, images: torch.Tensor, percentile=0.995):
        """Sets each lambda to a high percentile of its positive pre-activations on a batch,
        so the quantization grid covers the range the data actually uses (each activation is
        set before it runs, so later ones see the quantized earlier ones)."""
        def set_threshold(module, inputs):
            positive = inputs[0][inputs[0] > 0].flatten().float()
            if positive.numel():
                k = max(1, int(percentile * positive.numel()))
                module.threshold.fill_(positive.kthvalue(k).values.item())
        hooks = [m.register_forward_pre_hook(set_threshold) for m in self.activations()]
        try:
            self.body(images)
        finally:
            for h in hooks:
                h.remove()
