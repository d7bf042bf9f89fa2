"""Training-time data augmentation (the validation split is never augmented)."""
import torch
import torch.nn.functional as F


def augment(x, translate, cutout):
    """Per image: random translation by up to `translate` pixels (reflect padding), horizontal
    flip, and (cutout > 0) one zeroed `cutout`-pixel square at a random centre."""
    n, _, h, w = x.shape
    if translate:
        padded = F.pad(x, (translate,) * 4, mode="reflect")
        dx, dy = torch.randint(0, 2 * translate + 1, (n,)), torch.randint(0, 2 * translate + 1, (n,))
        out = torch.empty_like(x)
        for i in range(n):
            out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
    else:
        out = x.clone()  # the flip below writes in place: never into the caller's tensor
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(3)
    if cutout:
        cy, cx = torch.randint(0, h, (n, 1, 1)), torch.randint(0, w, (n, 1, 1))  # may overhang the border
        rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
        top, left = cy - cutout // 2, cx - cutout // 2
        inside = (rows >= top) & (rows < top + cutout) & (cols >= left) & (cols < left + cutout)
        out = out * ~inside[:, None]
    return out
