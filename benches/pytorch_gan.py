"""The PyTorch original, for side-by-side runs: the same MLP GAN, loss, optimizer
and batch as ganvas's defaults, trained on the same MNIST files.

    python benches/pytorch_gan.py --steps 10000 --out runs/torch [--device cpu|cuda] [--threads N]
        [--save-at 1,1000,5000] [--conditional] [--mode eager|graph|compile [--compile-mode M]]

Writes generator.safetensors and discriminator.safetensors (the state_dicts ganvas
reads), and generator_step_N.safetensors after each step N of --save-at (for
`ganvas eval`'s calibration), and prints steady-state steps per second.
--conditional trains the conditional GAN of README (a one-hot label concatenated to
G's and D's inputs; real images carry their MNIST labels, fakes uniform ones).

--mode picks how PyTorch runs the same step, for speed comparisons (#18's strongest
peer): eager (Python launches each kernel; the default), graph (CUDA only: the
whole step captured once in a CUDA graph with capturable Adam, the batch gathered
on the GPU from an on-GPU shuffle through a static index buffer, the noise drawn
in the graph; three warm-up steps run before capture), or compile (torch.compile
of the whole step, --compile-mode default / reduce-overhead / max-autotune).
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
from torch.nn import functional as F


def mlp(widths, last):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        layers.append(last if i == len(widths) - 2 else nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, classes=0, latent=100):
        super().__init__()
        self.model = mlp([latent + classes, 256, 512, 1024, 784], nn.Tanh())

    def forward(self, z, y=None):
        return self.model(z if y is None else torch.cat([z, F.one_hot(y, 10).float()], 1))


class Discriminator(nn.Module):
    def __init__(self, classes=0):
        super().__init__()
        self.model = mlp([784 + classes, 512, 256, 1], nn.Sigmoid())

    def forward(self, x, y=None):
        return self.model(x if y is None else torch.cat([x, F.one_hot(y, 10).float()], 1))


def load_images(data_dir):
    raw = gzip.open(pathlib.Path(data_dir) / "train-images-idx3-ubyte.gz").read()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784)
    return torch.from_numpy((images.astype(np.float32) / 255.0 - 0.5) / 0.5)


def load_labels(data_dir):
    raw = gzip.open(pathlib.Path(data_dir) / "train-labels-idx1-ubyte.gz").read()
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=8).astype(np.int64))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--data", default=str(pathlib.Path(__file__).parent.parent / "data" / "mnist"))
    p.add_argument("--out", default=None)
    p.add_argument("--save-at", default="", help="steps after which to write the generator too, e.g. 1,1000")
    p.add_argument("--conditional", action="store_true", help="the conditional GAN (labels on G's and D's inputs)")
    p.add_argument("--mode", choices=["eager", "graph", "compile"], default="eager")
    p.add_argument("--compile-mode", default="default", help="torch.compile's mode with --mode compile")
    args = p.parse_args()
    if args.mode == "graph" and args.device != "cuda":
        p.error("--mode graph needs --device cuda")
    save_at = {int(s) for s in args.save_at.split(",") if s}
    if save_at and not args.out:
        p.error("--save-at needs --out")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    data = load_images(args.data).to(dev)
    labels = load_labels(args.data).to(dev) if args.conditional else None
    classes = 10 if args.conditional else 0
    g, d = Generator(classes).to(dev), Discriminator(classes).to(dev)
    loss = nn.BCELoss()
    # A CUDA graph replays Adam's step count from a device tensor: capturable.
    capturable = args.mode == "graph"
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=capturable)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), capturable=capturable)
    ones = torch.ones(args.batch, 1, device=dev)
    zeros = torch.zeros(args.batch, 1, device=dev)
    per_epoch = data.shape[0] // args.batch
    order = torch.randperm(data.shape[0], device=dev)
    # The step's batch: indices into the data, on the device (a graph reads them from here).
    rows = torch.zeros(args.batch, dtype=torch.long, device=dev)

    def train_step():
        real = data[rows]
        real_y = labels[rows] if args.conditional else None
        z = torch.randn(args.batch, 100, device=dev)
        fake_y = torch.randint(0, 10, (args.batch,), device=dev) if args.conditional else None
        fake = g(z, fake_y)

        opt_d.zero_grad(set_to_none=not capturable)
        d_loss = (loss(d(real, real_y), ones) + loss(d(fake.detach(), fake_y), zeros)) / 2
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad(set_to_none=not capturable)
        g_loss = loss(d(fake, fake_y), ones)
        g_loss.backward()
        opt_g.step()
        return d_loss, g_loss

    run = train_step
    if args.mode == "compile":
        run = torch.compile(train_step, mode=None if args.compile_mode == "default" else args.compile_mode)
    elif args.mode == "graph":
        # Warm up on a side stream (CUDA graphs require it), then capture one step.
        rows.copy_(order[: args.batch])
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                train_step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            captured = train_step()

        def run():
            graph.replay()
            return captured

    warmup = min(20, args.steps // 10)
    start = time.perf_counter()
    for step in range(args.steps):
        if step == warmup:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        if step % per_epoch == 0 and step:
            order = torch.randperm(data.shape[0], device=dev)
        i = step % per_epoch
        rows.copy_(order[i * args.batch:(i + 1) * args.batch])
        d_loss, g_loss = run()
        if (step + 1) % 1000 == 0:
            print(f"step {step + 1}: D loss {d_loss.item():.4f}  G loss {g_loss.item():.4f}", flush=True)
        if step + 1 in save_at:
            save(g, pathlib.Path(args.out) / f"generator_step_{step + 1}.safetensors")
    if dev.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    print(f"steps_per_second {(args.steps - warmup) / elapsed:.2f}")
    print("json " + json.dumps({"mode": args.mode, "compile_mode": args.compile_mode, "device": args.device,
                                "batch": args.batch, "steps": args.steps,
                                "steps_per_second": (args.steps - warmup) / elapsed}), flush=True)
    if args.out:
        out = pathlib.Path(args.out)
        save(g, out / "generator.safetensors")
        save(d, out / "discriminator.safetensors")


def save(module, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, path)


if __name__ == "__main__":
    main()
