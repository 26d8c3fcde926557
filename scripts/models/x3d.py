"""X3D (Feichtenhofer, "X3D: Expanding Architectures for Efficient Video
Recognition", CVPR 2020), in PyTorchVideo's layout (pytorchvideo/models/
x3d.py, create_x3d), written from the paper's Table 1 for X3D-S/M:

- stem: conv 1x3x3 stride (1,2,2), 24 channels, then a depth-wise 5x1x1
  conv, BN, ReLU;
- four stages of 3/5/11/7 blocks with 24/48/96/192 output channels; a block
  is conv 1x1x1 (inner = 2.25 x out) -> BN -> ReLU -> depth-wise 3x3x3
  (spatial stride 2 in a stage's first block) -> BN -> squeeze-excitation
  (every other block, first included; reduction to round_width(inner/16)) ->
  swish -> conv 1x1x1 -> BN, residual add (1x1x1 conv + BN projection when
  the shape changes), ReLU;
- head (ProjectedPool): conv 1x1x1 to 432 -> BN -> ReLU -> average pool over
  the whole clip -> conv 1x1x1 to 2048 -> ReLU -> dropout -> channels last
  -> Linear -> channels first -> average -> (N, classes).  PyTorchVideo
  puts an optional Softmax before the last average; it is left out here
  (head_activation=None), so the output is logits.

X3D-S and X3D-M are the same network on different clips (13x160x160 and
16x224x224 in the paper; 13x182x182 and 16x256x256 in PyTorchVideo's hub).
"""
import torch
import torch.nn as nn

from .common import ChannelsLastHead, ch, init_like_videoresnet, shortcut, swish

DEPTHS = (3, 5, 11, 7)
WIDTHS = (24, 48, 96, 192)
EXPANSION = 2.25


def round_width(width, multiplier, min_width=8, divisor=8):
    """pytorchvideo.layers.utils.round_width."""
    width *= multiplier
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return int(out)


class SqueezeExcitation(nn.Module):
    def __init__(self, c, c_red):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc1 = nn.Conv3d(c, c_red, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv3d(c_red, c, 1, bias=True)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.relu(self.fc1(self.pool(x)))))


class X3DBlock(nn.Module):
    def __init__(self, cin, inner, cout, stride, se_ch):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(inner, inner, 3, stride=(1, stride, stride), padding=1, groups=inner, bias=False)
        self.norm_b = nn.BatchNorm3d(inner)
        self.se = SqueezeExcitation(inner, se_ch) if se_ch else None
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.branch1 = shortcut(cin, cout, (1, stride, stride))

    def forward(self, x):
        y = self.relu(self.norm_a(self.conv_a(x)))
        y = self.norm_b(self.conv_b(y))
        if self.se is not None:
            y = self.se(y)
        y = self.norm_c(self.conv_c(swish(y)))
        return self.relu(y + (x if self.branch1 is None else self.branch1(x)))


class X3D(nn.Module):
    """`pool`: the head's average-pool kernel, the last feature map's T x H x
    W ((16, 7, 7) for 16x224x224)."""

    def __init__(self, width=1.0, num_classes=400, pool=(16, 7, 7), head=(432, 2048), dropout=0.5):
        super().__init__()
        c0 = ch(24, width)
        self.stem = nn.Sequential(
            nn.Conv3d(3, c0, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.Conv3d(c0, c0, (5, 1, 1), padding=(2, 0, 0), groups=c0, bias=False),
            nn.BatchNorm3d(c0),
            nn.ReLU(inplace=True),
        )
        blocks = []
        cin = c0
        for n, w in zip(DEPTHS, WIDTHS):
            cout = ch(w, width)
            inner = ch(w * EXPANSION, width)
            se = round_width(inner, 1 / 16) if width == 1.0 else ch(inner / 16, 1.0)
            for i in range(n):
                blocks.append(X3DBlock(cin, inner, cout, 2 if i == 0 else 1, se if i % 2 == 0 else 0))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        h0, h1 = ch(head[0], width), ch(head[1], width)
        self.pre = nn.Sequential(nn.Conv3d(cin, h0, 1, bias=False), nn.BatchNorm3d(h0), nn.ReLU(inplace=True))
        self.pool = nn.AvgPool3d(pool, stride=1)
        self.post = nn.Sequential(nn.Conv3d(h0, h1, 1, bias=False), nn.ReLU(inplace=True))
        self.head = ChannelsLastHead(h1, num_classes, dropout)
        init_like_videoresnet(self)

    def forward(self, x):
        x = self.pre(self.blocks(self.stem(x)))
        return self.head(self.post(self.pool(x)))


def x3d_m(width=1.0, num_classes=400, pool=(16, 7, 7)):
    return X3D(width, num_classes, pool)


def x3d_s(width=1.0, num_classes=400, pool=(13, 5, 5)):
    return X3D(width, num_classes, pool)
