"""I3D: Inflated Inception-v1 (Carreira and Zisserman, "Quo Vadis, Action
Recognition?", CVPR 2017; the layer names follow DeepMind's kinetics-i3d),
written from the paper's Figure 3:

    Conv3d_1a_7x7 (64, stride 2)      MaxPool3d_2a_3x3 (1x3x3, stride 1,2,2)
    Conv3d_2b_1x1 (64)                Conv3d_2c_3x3 (192)
    MaxPool3d_3a_3x3 (1x3x3, 1,2,2)   Mixed_3b, Mixed_3c
    MaxPool3d_4a_3x3 (3x3x3, 2)       Mixed_4b .. Mixed_4f
    MaxPool3d_5a_2x2 (2x2x2, 2)       Mixed_5b, Mixed_5c
    AvgPool (2x7x7), Dropout, Conv3d_0c_1x1 (logits, with bias),
    mean over time.

Every conv is Conv3d (no bias) -> BN (eps 1e-3) -> ReLU.  The TF original
pads 'SAME'; here padding is symmetric (k // 2), which gives the same output
sizes, and the same values at stride 1, but at stride 2 on even sizes TF
pads one more row at the end instead of one at the start.  A Mixed block has
four branches concatenated on channels: 1x1x1; 1x1x1 -> 3x3x3; 1x1x1 ->
3x3x3; 3x3x3 max-pool (stride 1) -> 1x1x1.
"""
import torch
import torch.nn as nn

from .common import Unit3D, ch

EPS = 1e-3
# (b0, b1 reduce, b1, b2 reduce, b2, b3 pool proj), Inception-v1
MIXED = {
    "3b": (64, 96, 128, 16, 32, 32),
    "3c": (128, 128, 192, 32, 96, 64),
    "4b": (192, 96, 208, 16, 48, 64),
    "4c": (160, 112, 224, 24, 64, 64),
    "4d": (128, 128, 256, 24, 64, 64),
    "4e": (112, 144, 288, 32, 64, 64),
    "4f": (256, 160, 320, 32, 128, 128),
    "5b": (256, 160, 320, 32, 128, 128),
    "5c": (384, 192, 384, 48, 128, 128),
}


class Mixed(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        b0, b1r, b1, b2r, b2, b3 = c
        self.b0 = Unit3D(cin, b0, 1, eps=EPS)
        self.b1 = nn.Sequential(Unit3D(cin, b1r, 1, eps=EPS), Unit3D(b1r, b1, 3, eps=EPS))
        self.b2 = nn.Sequential(Unit3D(cin, b2r, 1, eps=EPS), Unit3D(b2r, b2, 3, eps=EPS))
        self.b3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), Unit3D(cin, b3, 1, eps=EPS))
        self.cout = b0 + b1 + b2 + b3

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


class I3D(nn.Module):
    """`pool`: the final average-pool kernel, (2, 7, 7) for 16x224x224 clips."""

    def __init__(self, width=1.0, num_classes=400, pool=(2, 7, 7), dropout=0.5):
        super().__init__()
        c = lambda n: ch(n, width)  # noqa: E731
        layers = [
            Unit3D(3, c(64), 7, stride=2, eps=EPS),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            Unit3D(c(64), c(64), 1, eps=EPS),
            Unit3D(c(64), c(192), 3, eps=EPS),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ]
        cin = c(192)
        for name in ("3b", "3c", "pool4a", "4b", "4c", "4d", "4e", "4f", "pool5a", "5b", "5c"):
            if name == "pool4a":
                layers.append(nn.MaxPool3d(3, stride=2, padding=1))
            elif name == "pool5a":
                layers.append(nn.MaxPool3d(2, stride=2))
            else:
                blk = Mixed(cin, tuple(c(n) for n in MIXED[name]))
                layers.append(blk)
                cin = blk.cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool3d(pool, stride=1)
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Conv3d(cin, num_classes, 1, bias=True)

    def forward(self, x):
        x = self.logits(self.dropout(self.avgpool(self.features(x))))
        return x.squeeze(3).squeeze(3).mean(2)


def i3d(width=1.0, num_classes=400, pool=(2, 7, 7)):
    return I3D(width, num_classes, pool)
