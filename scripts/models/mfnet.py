"""MFNet-3D: Multi-Fiber Networks (Chen, Kalantidis, Li, Yan, Feng, "Multi-
Fiber Networks for Video Recognition", ECCV 2018), written from the paper's
Figure 2 and Table 1:

- every conv is pre-activated: BatchNorm -> ReLU -> Conv3d (no bias);
- a multi-fibre unit: a 1x1x1 multiplexer (in -> mid/4 -> in, added back to
  the input: x + i2(i1(x))), then the fibres: a 3x3x3 conv and a 1x3x3 conv
  grouped into 16 fibres (the first unit of a stage uses 1x1x1 ungrouped for
  its second conv), residual add with the input (1x1x1 projection in the
  first unit of a stage);
- conv1 3x5x5 stride (1,2,2), 16 channels, BN, ReLU; max-pool 1x3x3 stride
  (1,2,2); stages of 3/4/6/3 units with 96/192/384/768 channels (mid =
  out), the first unit of conv2 striding time by 2 and of conv3-5 space by
  2; final BN + ReLU, average pool (8x7x7 for 16x224x224), fully connected.

Pre-activation means most BatchNorms sit before a conv and cannot be folded
into it: a BN-"folded" export still has BatchNormalization nodes (only
conv1's is folded).
"""
import torch
import torch.nn as nn

from .common import ch, init_like_videoresnet, triple

FIBRES = 16
UNITS = (3, 4, 6, 3)
OUT = (96, 192, 384, 768)


class BnAcConv(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, groups=1):
        super().__init__()
        self.bn = nn.BatchNorm3d(cin)
        self.relu = nn.ReLU(inplace=True)
        k = triple(kernel)
        self.conv = nn.Conv3d(cin, cout, k, stride=triple(stride), padding=tuple(x // 2 for x in k),
                              groups=groups, bias=False)

    def forward(self, x):
        return self.conv(self.relu(self.bn(x)))


class MFUnit(nn.Module):
    def __init__(self, cin, mid, cout, stride, first):
        super().__init__()
        ix = max(2, mid // 4)
        self.conv_i1 = BnAcConv(cin, ix, 1)
        self.conv_i2 = BnAcConv(ix, cin, 1)
        self.conv_m1 = BnAcConv(cin, mid, 3, stride=stride, groups=FIBRES)
        if first:
            self.conv_m2 = BnAcConv(mid, cout, 1)
            self.conv_w1 = BnAcConv(cin, cout, 1, stride=stride)
        else:
            self.conv_m2 = BnAcConv(mid, cout, (1, 3, 3), groups=FIBRES)
            self.conv_w1 = None

    def forward(self, x):
        x_in = x + self.conv_i2(self.conv_i1(x))
        h = self.conv_m2(self.conv_m1(x_in))
        return h + (x if self.conv_w1 is None else self.conv_w1(x))


class MFNet3D(nn.Module):
    """`width` scales every channel count; fibre widths are rounded to a
    multiple of 16 (one or more channels per fibre)."""

    def __init__(self, width=1.0, num_classes=400, pool=(8, 7, 7)):
        super().__init__()
        c1 = ch(16, width, multiple=FIBRES)
        self.conv1 = nn.Sequential(
            nn.Conv3d(3, c1, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False),
            nn.BatchNorm3d(c1),
            nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        stages = []
        cin = c1
        for s, (n, out) in enumerate(zip(UNITS, OUT)):
            cout = ch(out, width, multiple=FIBRES)
            units = []
            for i in range(n):
                stride = ((2, 1, 1) if s == 0 else (1, 2, 2)) if i == 0 else (1, 1, 1)
                units.append(MFUnit(cin, cout, cout, stride, first=(i == 0)))
                cin = cout
            stages.append(nn.Sequential(*units))
        self.conv2, self.conv3, self.conv4, self.conv5 = stages
        self.tail = nn.Sequential(nn.BatchNorm3d(cin), nn.ReLU(inplace=True))
        self.globalpool = nn.AvgPool3d(pool, stride=1)
        self.classifier = nn.Linear(cin, num_classes)
        init_like_videoresnet(self)

    def forward(self, x):
        h = self.maxpool(self.conv1(x))
        h = self.conv5(self.conv4(self.conv3(self.conv2(h))))
        h = self.globalpool(self.tail(h))
        return self.classifier(h.view(h.shape[0], -1))


def mfnet3d(width=1.0, num_classes=400, pool=(8, 7, 7)):
    return MFNet3D(width, num_classes, pool)
