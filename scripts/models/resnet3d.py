"""3D ResNets and ResNeXt of Hara, Kataoka and Satoh ("Can spatiotemporal 3D
CNNs retrace the history of 2D CNNs and ImageNet?", CVPR 2018;
kenshohara/3D-ResNets-PyTorch, models/resnet.py and the 2018 resnext.py),
written from that description:

- stem: conv 7x7x7, stride (1,2,2), 64 channels, BN, ReLU, max-pool 3x3x3
  stride 2;
- four stages of bottleneck blocks, 1x1x1 -> 3x3x3 (stride 2 in the first
  block of stages 2-4, in time and space) -> 1x1x1, BN after each conv, ReLU
  after the residual add; shortcut type B (1x1x1 conv + BN projection when
  the shape changes, identity otherwise);
- global average pool, fully connected layer.

ResNet: planes 64/128/256/512, expansion 4; [3,4,6,3] (50), [3,4,23,3]
(101), [3,8,36,3] (152).  ResNeXt-101: planes 128/256/512/1024, expansion
2, cardinality 32, the 3x3x3 conv grouped with cardinality * planes/32
channels.  `width` is Hara's widen_factor (all channel counts); the
ResNeXt keeps cardinality 32 with at least one channel per group.
"""
import torch
import torch.nn as nn

from .common import ch, init_like_videoresnet, shortcut

DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, stride, groups=1):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = nn.Conv3d(mid, mid, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm3d(mid)
        self.conv3 = nn.Conv3d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(cin, cout, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu(out + sc)


class ResNet3D(nn.Module):
    """Hara's 3D ResNet (depth 50, 101, 152) or ResNeXt (cardinality > 1)."""

    def __init__(self, depth=50, width=1.0, num_classes=400, cardinality=1):
        super().__init__()
        layers = DEPTHS[depth]
        stem = ch(64, width)
        if cardinality == 1:
            planes = [ch(p, width) for p in (64, 128, 256, 512)]
            mids, outs = planes, [p * 4 for p in planes]
        else:
            planes = [p * width for p in (128, 256, 512, 1024)]
            mids = [cardinality * max(1, int(p / 32)) for p in planes]
            outs = [ch(p * 2, 1.0) for p in planes]
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem, kernel_size=7, stride=(1, 2, 2), padding=3, bias=False),
            nn.BatchNorm3d(stem),
            nn.ReLU(inplace=True),
            nn.MaxPool3d(kernel_size=3, stride=2, padding=1),
        )
        stages = []
        cin = stem
        for s, (n, mid, cout) in enumerate(zip(layers, mids, outs)):
            blocks = []
            for i in range(n):
                stride = 2 if (s > 0 and i == 0) else 1
                blocks.append(Bottleneck(cin, mid, cout, stride, groups=cardinality))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(cin, num_classes)
        init_like_videoresnet(self)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50_3d(width=1.0, num_classes=400):
    return ResNet3D(50, width, num_classes)


def resnet101_3d(width=1.0, num_classes=400):
    return ResNet3D(101, width, num_classes)


def resnet152_3d(width=1.0, num_classes=400):
    return ResNet3D(152, width, num_classes)


def resnext101_3d(width=1.0, num_classes=400):
    return ResNet3D(101, width, num_classes, cardinality=32)
