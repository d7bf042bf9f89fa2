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


def photo_augment(x, p, mean, std, upscale=4, min_area=0.35):
    """How the page sees a photograph, for a fraction `p` of the images (issue 26): each chosen
    image (normalised with `mean`/`std`, N×3×H×W) is

    - resampled larger (bilinear, `upscale` times) and a random crop of `min_area`..1 of its area,
      aspect ratio 3/4..4/3, is area-averaged back to H×W, as the page and `dynconf classify`
      area-average a photo's crop down to the network's input (random-resized crop; the upscale
      stands in for a photo's larger resolution);
    - exposure, contrast, saturation, white balance and gamma jittered in pixel space [0, 1]
      (gain 0.6..1.4, contrast 0.7..1.3, saturation 0.6..1.4, per-channel gain 0.9..1.1,
      gamma 0.8..1.25), clamped to [0, 1];
    - blurred with a Gaussian of σ 0.3..1.0 pixel, one image in three.

    JPEG is not simulated: there is no encoder in the training environment, and the CIFAR-10
    copy this project trains on was already stored as JPEG (quality about 75). Returns a new
    tensor; the others are copied unchanged."""
    n, c, h, w = x.shape
    out = x.clone()
    chosen = torch.nonzero(torch.rand(n) < p).flatten()
    if len(chosen) == 0:
        return out
    m = torch.tensor(mean, dtype=x.dtype)[:, None, None]
    s = torch.tensor(std, dtype=x.dtype)[:, None, None]
    pixels = (x[chosen] * s + m).clamp(0, 1)
    big = F.interpolate(pixels, scale_factor=upscale, mode="bilinear", align_corners=False)
    bh, bw = big.shape[2:]
    crops = []
    for i in range(len(chosen)):
        area = (min_area + (1 - min_area) * torch.rand(1).item()) * bh * bw
        ratio = 3 / 4 * (16 / 9) ** torch.rand(1).item()  # log-uniform in 3/4..4/3
        ch = max(h, min(bh, round((area / ratio) ** 0.5)))
        cw = max(w, min(bw, round((area * ratio) ** 0.5)))
        top = torch.randint(0, bh - ch + 1, (1,)).item()
        left = torch.randint(0, bw - cw + 1, (1,)).item()
        crops.append(F.adaptive_avg_pool2d(big[i:i + 1, :, top:top + ch, left:left + cw], (h, w)))
    pixels = torch.cat(crops)
    k = len(chosen)
    uniform = lambda lo, hi, *shape: lo + (hi - lo) * torch.rand(k, *shape, 1, 1)
    grey = pixels.mean(dim=1, keepdim=True)
    pixels = grey + uniform(0.6, 1.4, 1) * (pixels - grey)  # saturation
    level = pixels.mean(dim=(1, 2, 3), keepdim=True)
    pixels = level + uniform(0.7, 1.3, 1) * (pixels - level)  # contrast
    pixels = pixels * uniform(0.6, 1.4, 1) * uniform(0.9, 1.1, c)  # exposure, white balance
    pixels = pixels.clamp(0, 1) ** uniform(0.8, 1.25, 1)  # gamma
    blurred = torch.rand(k) < 1 / 3
    if blurred.any():
        pixels[blurred] = gaussian_blur(pixels[blurred], 0.3 + 0.7 * torch.rand(int(blurred.sum())))
    out[chosen] = (pixels.clamp(0, 1) - m) / s
    return out


def gaussian_blur(x, sigma):
    """Each image of `x` (N×C×H×W) blurred by a 5×5 Gaussian of its own `sigma` (N), with
    reflect padding; each kernel sums to 1."""
    n, c, _, _ = x.shape
    r = torch.arange(-2, 3, dtype=x.dtype)
    g = torch.exp(-(r[None, :] ** 2) / (2 * sigma[:, None] ** 2))
    g = g / g.sum(dim=1, keepdim=True)
    kernel = (g[:, :, None] * g[:, None, :])  # N×5×5
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")
    # One group per (image, channel): the image's kernel for each of its channels.
    weight = kernel.repeat_interleave(c, dim=0)[:, None]
    out = F.conv2d(padded.reshape(1, n * c, *padded.shape[2:]), weight, groups=n * c)
    return out.reshape_as(x)
