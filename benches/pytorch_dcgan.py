"""pytorch/examples' DCGAN (dcgan/main.py), for side-by-side runs with
`ganvas train --model dcgan`: the same networks (32×32 here: one layer fewer a side
than the example's 64×64), weights_init, BCE, Adam 2e-4 (0.5, 0.999), batch 64, on
MNIST padded to 32×32 with 2 pixels of background a side, as ganvas pads it.

    python benches/pytorch_dcgan.py --steps 1000 --seed 0 --out runs/torch-dcgan [--threads N] [--width 64]
        [--save-at 500,1000] [--compile] [--device cuda]

Writes generator.safetensors (the state_dict `ganvas eval --checkpoint` and
`ganvas sample` read), generator_step_N.safetensors after each step N of --save-at,
and prints steady-state steps per second (after 5 warm-up steps), then the same
as a line "json {...}" for benches/device/summarize.py.
"""
import argparse
import gzip
import json
import pathlib
import time

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

NZ, NC = 100, 1


class Generator(nn.Module):
    def __init__(self, ngf):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, NC, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(NC, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):  # pytorch/examples'
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def padded_mnist(data_dir):
    raw = gzip.open(pathlib.Path(data_dir) / "train-images-idx3-ubyte.gz").read()
    images = torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28).copy())
    images = images.float().div(255).sub(0.5).div(0.5)
    return nn.functional.pad(images, (2, 2, 2, 2), value=-1.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data", default=str(pathlib.Path(__file__).parent.parent / "data" / "mnist"))
    p.add_argument("--out", default=None)
    p.add_argument("--save-at", default="")
    p.add_argument("--compile", action="store_true", help="torch.compile both networks")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    images = padded_mnist(args.data).to(device)
    netG, netD = Generator(args.width).to(device), Discriminator(args.width).to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    G, D = (torch.compile(netG), torch.compile(netD)) if args.compile else (netG, netD)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    save_at = {int(s) for s in args.save_at.split(",") if s}
    out = pathlib.Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    order, at, start = torch.randperm(len(images)), 0, None
    for step in range(1, args.steps + 1):
        if step == 6:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        if at + args.batch > len(images):
            order, at = torch.randperm(len(images)), 0
        real = images[order[at:at + args.batch].to(device)]
        at += args.batch
        netD.zero_grad()
        label = torch.full((args.batch,), 1.0, device=device)
        errD_real = criterion(D(real), label)
        errD_real.backward()
        fake = G(torch.randn(args.batch, NZ, 1, 1, device=device))
        label.fill_(0.0)
        errD_fake = criterion(D(fake.detach()), label)
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        errG = criterion(D(fake), label)
        errG.backward()
        optG.step()
        if out and step in save_at:
            save_file({k: v.contiguous() for k, v in netG.state_dict().items()}, out / f"generator_step_{step}.safetensors")
    if start is not None:
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = (args.steps - 5) / (time.perf_counter() - start)
        mode = "compiled" if args.compile else "eager"
        print(f"{rate:.2f} steps/s (threads {torch.get_num_threads()}, {mode}, batch {args.batch}, width {args.width}, "
              f"{args.device})")
        print("json " + json.dumps({"model": "dcgan", "mode": mode, "batch": args.batch, "width": args.width,
                                    "device": args.device, "steps_per_second": rate}))
    if out:
        save_file({k: v.contiguous() for k, v in netG.state_dict().items()}, out / "generator.safetensors")


if __name__ == "__main__":
    main()
