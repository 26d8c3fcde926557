"""Building blocks shared by the architectures in scripts/models/.

Every model class takes `width`, a multiplier on every channel count (1.0:
the published network), and `num_classes`.  `ch()` rounds a scaled channel
count; `unit3d()` is the Conv3d -> BatchNorm3d -> ReLU unit most of the
networks are made of."""
import torch
import torch.nn as nn


def ch(n, width, multiple=1, minimum=2):
    """n * width rounded to the nearest multiple of `multiple`, at least
    max(minimum, multiple)."""
    k = int(round(n * width / multiple)) * multiple
    return max(k, minimum, multiple)


def triple(k):
    return tuple(k) if isinstance(k, (tuple, list)) else (k, k, k)


def same_pad(k):
    """symmetric padding that keeps the size for an odd kernel (TF 'SAME'
    at stride 1)."""
    return tuple(x // 2 for x in triple(k))


def shortcut(cin, cout, stride):
    """The projection of a residual block's input when its shape changes (a
    1x1x1 conv + BatchNorm), or None for the identity. `stride`: an int or a
    (t, h, w) triple."""
    if triple(stride) == (1, 1, 1) and cin == cout:
        return None
    return nn.Sequential(nn.Conv3d(cin, cout, 1, stride=triple(stride), bias=False), nn.BatchNorm3d(cout))


class Unit3D(nn.Sequential):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU (activation optional)."""

    def __init__(self, cin, cout, kernel=1, stride=1, padding=None, groups=1, eps=1e-5, relu=True):
        layers = [nn.Conv3d(cin, cout, triple(kernel), stride=triple(stride),
                            padding=same_pad(kernel) if padding is None else triple(padding),
                            groups=groups, bias=False),
                  nn.BatchNorm3d(cout, eps=eps)]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


def init_like_videoresnet(model):
    """torchvision VideoResNet's init: kaiming (fan_out) convs, zero conv
    biases, BN 1/0, Linear N(0, 0.01) with zero bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


class ChannelsLastHead(nn.Module):
    """PyTorchVideo's ResNetBasicHead after its pooling: channels last ->
    Linear -> channels first -> global average -> (N, classes).  Exports as
    Transpose -> MatMul -> Add -> Transpose -> GlobalAveragePool/ReduceMean
    -> Flatten/Reshape, so the channel axis must be tracked through two
    Transposes."""

    def __init__(self, cin, num_classes, dropout=0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.dropout(x)
        x = x.permute(0, 2, 3, 4, 1)
        x = self.proj(x)
        x = x.permute(0, 4, 1, 2, 3)
        x = x.mean(dim=(2, 3, 4))
        return x


def swish(x):
    return x * torch.sigmoid(x)
