"""QCFS networks of the usual CIFAR shapes, for training/export_torch.py (our own definitions).

Every activation is a `MyFloor`, the attribute layout of the QCFS reference code's activation
(threshold lambda in `up`, an nn.Parameter of shape [1]; levels L in `t`), so that checkpoints of
that code's layout and of these builders export the same way.

    resnet20(levels)    CIFAR ResNet-20: 3x3 stem 16, stages 16/32/64 of 3 BasicBlocks
    resnet18(levels)    CIFAR ResNet-18: 3x3 stem 64, stages 64/128/256/512 of 2 BasicBlocks
    vgg16(levels)       13 conv-BN-act, AvgPool2d(2) after each of 5 groups, 512-4096-4096-classes
    resnet(...), vgg(...)  the general builders (widths, depths, an optional pool after the stem)
    resnet_tiny(levels), vgg_tiny(levels)  small variants for fixtures and tests
"""
import torch
from torch import nn

from model import FloorSTE


class MyFloor(nn.Module):
    """QCFS: up/t * clip(floor(z t / up + 1/2), 0, t), with `up` trainable."""

    def __init__(self, up: float = 8.0, t: int = 4):
        super().__init__()
        self.up = nn.Parameter(torch.tensor([float(up)]), requires_grad=True)
        self.t = int(t)

    def forward(self, x):
        x = x / self.up
        x = FloorSTE.apply(x * self.t + 0.5) / self.t
        return torch.clamp(x, 0, 1) * self.up

    def extra_repr(self):
        return f"t={self.t}"


class BasicBlock(nn.Module):
    """conv3x3(stride) -> BN -> act -> conv3x3 -> BN, plus the shortcut (identity, or a strided
    1x1 conv + BN when the shape changes), then act."""

    def __init__(self, c_in: int, c_out: int, stride: int, levels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = MyFloor(t=levels)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        else:
            self.shortcut = nn.Sequential()
        self.act2 = MyFloor(t=levels)

    def forward(self, x):
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, levels: int, widths, blocks, num_classes: int = 10, stem_width=None, stem_pool: bool = False):
        super().__init__()
        stem_width = stem_width or widths[0]
        self.conv1 = nn.Conv2d(3, stem_width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.act1 = MyFloor(t=levels)
        # Optional: average-pool the stem's spikes (halves the resolution of every stage).
        self.pool = nn.AvgPool2d(2) if stem_pool else nn.Identity()
        c_in, stages = stem_width, []
        for i, (width, n) in enumerate(zip(widths, blocks)):
            layers = []
            for j in range(n):
                layers.append(BasicBlock(c_in, width, 2 if (i > 0 and j == 0) else 1, levels))
                c_in = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        x = self.pool(self.act1(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(self.flatten(self.avgpool(x)))


def resnet(levels: int, widths=(16, 32, 64), blocks=(3, 3, 3), num_classes: int = 10, stem_pool: bool = False):
    return ResNet(levels, widths, blocks, num_classes, stem_pool=stem_pool)


def resnet20(levels: int, num_classes: int = 10):
    return resnet(levels, (16, 32, 64), (3, 3, 3), num_classes)


def resnet18(levels: int, num_classes: int = 10):
    return resnet(levels, (64, 128, 256, 512), (2, 2, 2, 2), num_classes)


def resnet_tiny(levels: int = 4, width: int = 8, num_classes: int = 10):
    """Stem `width`, its spikes average-pooled; stages width (2 blocks, identity shortcuts),
    2*width and 4*width (1 block each, 1x1-conv shortcuts)."""
    return resnet(levels, (width, 2 * width, 4 * width), (2, 1, 1), num_classes, stem_pool=True)


VGG16 = (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P")


class VGG(nn.Module):
    def __init__(self, levels: int, config, hidden: int, num_classes: int = 10, image_size: int = 32, dropout=0.5):
        super().__init__()
        layers, c_in, size = [], 3, image_size
        for item in config:
            if item == "P":
                layers.append(nn.AvgPool2d(2))
                size //= 2
            else:
                layers += [nn.Conv2d(c_in, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), MyFloor(t=levels)]
                c_in = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * size * size, hidden), MyFloor(t=levels), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), MyFloor(t=levels), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def vgg(levels: int, config=VGG16, hidden: int = 4096, num_classes: int = 10):
    return VGG(levels, config, hidden, num_classes)


def vgg16(levels: int, num_classes: int = 10):
    return vgg(levels, VGG16, 4096, num_classes)


def vgg_tiny(levels: int = 4, width: int = 8, num_classes: int = 10):
    """Conv groups width | 2*width, 2*width | 4*width, each followed by AvgPool2d(2) (4x4 left),
    then Flatten, Linear -> act -> Dropout -> Linear -> act -> Dropout -> Linear."""
    w = width
    return VGG(levels, (w, "P", 2 * w, 2 * w, "P", 4 * w, "P"), 8 * w, num_classes)
