"""SlowFast R50 (Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video
Recognition", ICCV 2019, Table 1), in PyTorchVideo's layout (slowfast_r50,
8x8: alpha 4, beta 1/8, fusion kernel 7), written from the paper:

- two graph inputs: `slow` (T frames) and `fast` (alpha x T frames);
- slow stem conv 1x7x7, fast stem conv 5x7x7 (beta x 64 = 8 channels),
  stride (1,2,2), BN, ReLU, max-pool 1x3x3 stride (1,2,2);
- ResNet-50 bottleneck stages res2-res5 (3/4/6/3 blocks) on each pathway;
  conv_a is 1x1x1 in the slow res2/res3 and 3x1x1 everywhere else, conv_b
  1x3x3 (spatial stride 2 in the first block of res3-res5), conv_c 1x1x1;
  the fast pathway has beta x the channels;
- lateral connections after the stem and after res2, res3, res4: a
  time-strided conv (7x1x1, stride alpha, 2 x the fast channels) -> BN ->
  ReLU on the fast features, concatenated after the slow features;
- head: average pool of each pathway, concatenated (slow first), dropout,
  channels-last Linear, average -> (N, classes).

SlowFast(alpha=8, fusion_kernel=5) on 4 slow and 32 fast frames is the
paper's 4x16 model (not exported by scripts/export_arch.py).
"""
import torch
import torch.nn as nn

from .common import ChannelsLastHead, ch, init_like_videoresnet, shortcut

DEPTHS = (3, 4, 6, 3)
SLOW_TK = (1, 1, 3, 3)  # conv_a temporal kernel per stage, slow pathway
FAST_TK = (3, 3, 3, 3)


class Bottleneck(nn.Module):
    def __init__(self, cin, mid, cout, tk, stride):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, mid, (tk, 1, 1), padding=(tk // 2, 0, 0), bias=False)
        self.norm_a = nn.BatchNorm3d(mid)
        self.conv_b = nn.Conv3d(mid, mid, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False)
        self.norm_b = nn.BatchNorm3d(mid)
        self.conv_c = nn.Conv3d(mid, cout, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.branch1 = shortcut(cin, cout, (1, stride, stride))

    def forward(self, x):
        y = self.relu(self.norm_a(self.conv_a(x)))
        y = self.relu(self.norm_b(self.conv_b(y)))
        y = self.norm_c(self.conv_c(y))
        return self.relu(y + (x if self.branch1 is None else self.branch1(x)))


class Lateral(nn.Module):
    """Fast -> slow fusion: time-strided conv, BN, ReLU, concatenated."""

    def __init__(self, c_fast, alpha, kernel):
        super().__init__()
        self.conv = nn.Conv3d(c_fast, 2 * c_fast, (kernel, 1, 1), stride=(alpha, 1, 1), padding=(kernel // 2, 0, 0),
                              bias=False)
        self.norm = nn.BatchNorm3d(2 * c_fast)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, slow, fast):
        return torch.cat([slow, self.relu(self.norm(self.conv(fast)))], 1)


def stem(cout, tk):
    return nn.Sequential(
        nn.Conv3d(3, cout, (tk, 7, 7), stride=(1, 2, 2), padding=(tk // 2, 3, 3), bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


class SlowFast(nn.Module):
    def __init__(self, width=1.0, num_classes=400, alpha=4, beta_inv=8, fusion_kernel=7, dropout=0.5):
        super().__init__()
        cs = ch(64, width)
        cf = max(2, cs // beta_inv)
        self.slow_stem, self.fast_stem = stem(cs, 1), stem(cf, 5)
        self.laterals = nn.ModuleList([Lateral(cf, alpha, fusion_kernel)])
        slow_in, fast_in = cs + 2 * cf, cf
        self.slow_stages, self.fast_stages = nn.ModuleList(), nn.ModuleList()
        for s, n in enumerate(DEPTHS):
            ms = ch(64 * 2 ** s, width)
            mf = max(2, ms // beta_inv)
            sb, fb = [], []
            for i in range(n):
                stride = 2 if (s > 0 and i == 0) else 1
                sb.append(Bottleneck(slow_in, ms, 4 * ms, SLOW_TK[s], stride))
                fb.append(Bottleneck(fast_in, mf, 4 * mf, FAST_TK[s], stride))
                slow_in, fast_in = 4 * ms, 4 * mf
            self.slow_stages.append(nn.Sequential(*sb))
            self.fast_stages.append(nn.Sequential(*fb))
            if s < 3:
                self.laterals.append(Lateral(fast_in, alpha, fusion_kernel))
                slow_in += 2 * fast_in
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.head = ChannelsLastHead(slow_in + fast_in, num_classes, dropout)
        init_like_videoresnet(self)

    def forward(self, slow, fast):
        slow, fast = self.slow_stem(slow), self.fast_stem(fast)
        slow = self.laterals[0](slow, fast)
        for s in range(4):
            slow, fast = self.slow_stages[s](slow), self.fast_stages[s](fast)
            if s < 3:
                slow = self.laterals[s + 1](slow, fast)
        return self.head(torch.cat([self.pool(slow), self.pool(fast)], 1))


def slowfast_r50(width=1.0, num_classes=400, alpha=4):
    return SlowFast(width, num_classes, alpha)
