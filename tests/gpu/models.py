"""The GPU check's models, references and published-loop timing (tests/gpu/check.sh).

    models.py zoo DIR REFS          TorchScript zoos and IDX references into DIR
    models.py published DIR DEVICE  points/s of the published loop's shape on DEVICE, per zoo
    models.py matmul DEVICE         the device's float32 matmul rate (TF32 off), GFLOP/s

Plain torch only (no torchvision, no h5py): the machine that runs the check may
have nothing but a PyTorch. ResNet-18 (3x32x32 -> 10 logits) and a
Taskonomy-sized ResNet-50 encoder (3x128x128 -> 8x16x16) are written out here.
"""
import os
import struct
import sys
import time

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride, expansion):
        super().__init__()
        cout = width * expansion
        if expansion == 1:  # ResNet-18's basic block
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        else:
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def resnet(blocks, expansion, strides):
    layers, cin = [], 64
    for i, (n, stride) in enumerate(zip(blocks, strides)):
        width = 64 * 2 ** i
        for j in range(n):
            layers.append(Bottleneck(cin, width, stride if j == 0 else 1, expansion))
            cin = width * expansion
    return layers, cin


class ResNet18(nn.Module):  # 3x32x32 -> 10 logits
    def __init__(self):
        super().__init__()
        layers, cin = resnet([2, 2, 2, 2], 1, [1, 2, 2, 2])
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


class Encoder50(nn.Module):  # Taskonomy-sized: 3x128x128 -> 8x16x16 (ResNet-50 layers 1-3, layer 3 at stride 1)
    def __init__(self):
        super().__init__()
        layers, cin = resnet([3, 4, 6], 4, [1, 2, 1])
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.layers = nn.Sequential(*layers)
        self.head = nn.Conv2d(cin, 8, 1)

    def forward(self, x):
        return self.head(self.layers(self.stem(x)))


class TanhCNN(nn.Module):  # the test zoos' small CNN: 3x32x32 -> 10 logits
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.Tanh(), nn.Conv2d(8, 16, 3, 2, 1), nn.Tanh())
        self.fc = nn.Linear(16 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(x), 1))


ZOOS = {  # name: (class, input side, models, target)
    "small": (TanhCNN, 32, 3, "predicted"),
    "resnet18": (ResNet18, 32, 2, "predicted"),
    "resnet50enc": (Encoder50, 128, 2, "topk:1"),
}


def write_idx(path, images):  # N x H x W x C unsigned bytes
    n, h, w, c = images.shape
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, 4) + struct.pack(">IIII", n, h, w, c))
        f.write(bytearray(images.flatten().tolist()))


def zoo(out, refs):
    os.makedirs(out, exist_ok=True)
    for name, (cls, side, count, _) in ZOOS.items():
        for i in range(count):
            torch.manual_seed(100 + i)
            model = cls().eval()
            for m in model.modules():  # BatchNorm statistics that are not the identity
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
            model.input_shape = [3, side, side]
            torch.jit.script(model).save(f"{out}/{name}-{i}.pt")
        gen = torch.Generator().manual_seed(7)
        images = torch.randint(0, 256, (refs, side, side, 3), generator=gen, dtype=torch.uint8)
        write_idx(f"{out}/{name}-images-idx3-ubyte", images)


def forward_flops(model, side):
    """Multiply-adds x 2 of the convolutions and linear layers of one forward pass."""
    total = [0]
    def conv(m, _, out):
        total[0] += 2 * out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
    def linear(m, _, out):
        total[0] += 2 * out.numel() * m.in_features
    hooks = [m.register_forward_hook(conv if isinstance(m, nn.Conv2d) else linear)
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.rand(1, 3, side, side))
    for h in hooks:
        h.remove()
    return total[0]


def published(out, device):
    """The published code's loop: 2 references x all 50 steps per forward/backward, float32 NCHW.
    Prints per zoo: points/s and the GFLOP of one point (forward + input gradient, about twice the forward)."""
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    for name, (cls, side, _, _) in ZOOS.items():
        model = torch.jit.load(f"{out}/{name}-0.pt", map_location=device).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        x = torch.rand(2 * 50, 3, side, side, device=device, requires_grad=True)
        def step():
            y = model(x)
            (g,) = torch.autograd.grad(y.sum(), x)
            return g
        step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        reps, t0 = 0, time.perf_counter()
        while reps < 3 or time.perf_counter() - t0 < 2:
            step()
            reps += 1
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        print(name, reps * x.shape[0] / (time.perf_counter() - t0), 2 * forward_flops(cls().eval(), side) / 1e9)


def matmul(device):
    torch.backends.cuda.matmul.allow_tf32 = False
    n = 4096 if device.startswith("cuda") else 1024
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    reps, t0 = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - t0 < 1:
        a @ b
        reps += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    print(2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)


if __name__ == "__main__":
    {"zoo": lambda: zoo(sys.argv[2], int(sys.argv[3])), "published": lambda: published(sys.argv[2], sys.argv[3]),
     "matmul": lambda: matmul(sys.argv[2])}[sys.argv[1]]()
