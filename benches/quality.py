"""A classifier-based image-quality score for generated MNIST digits.

    python benches/quality.py samples_a.npy [samples_b.npy ...]

Each .npy holds [N, 784] float32 images in [-1, 1] (`ganvas sample --out x.npy`).
A small MLP classifier is trained on the MNIST training set (seeded); for each
sample set it reports the classifier score exp(E KL(p(y|x) || p(y))) (Inception
Score with an MNIST classifier; 10 is the ceiling) and the Fréchet distance
between the classifier's penultimate features of the samples and of the 10,000
test images (lower is better; the test set against itself scores 0).
"""
import gzip
import pathlib
import sys

import numpy as np
import torch
from torch import nn

DATA = pathlib.Path(__file__).parent.parent / "data" / "mnist"


def load(name, offset, shape):
    raw = gzip.open(DATA / name).read()
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)


def scaled(x):
    return torch.from_numpy((x.astype(np.float32) / 255.0 - 0.5) / 0.5)


def frechet(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(ca)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.linalg.eigvals(root_a @ cb @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(cross.real, 0, None)).sum())


def main():
    torch.manual_seed(0)
    x_train = scaled(load("train-images-idx3-ubyte.gz", 16, (-1, 784)))
    y_train = torch.from_numpy(load("train-labels-idx1-ubyte.gz", 8, (-1,)).astype(np.int64))
    x_test = scaled(load("t10k-images-idx3-ubyte.gz", 16, (-1, 784)))
    y_test = torch.from_numpy(load("t10k-labels-idx1-ubyte.gz", 8, (-1,)).astype(np.int64))
    features = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU())
    model = nn.Sequential(features, nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(5):
        perm = torch.randperm(len(x_train))
        for i in range(0, len(x_train), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
        test_features = features(x_test).numpy()
    print(f"classifier test accuracy {accuracy:.4f}")
    for path in sys.argv[1:]:
        x = torch.from_numpy(np.load(path))
        with torch.no_grad():
            p = torch.softmax(model(x), 1).numpy()
            f = features(x).numpy()
        marginal = p.mean(0, keepdims=True)
        kl = (p * (np.log(p + 1e-12) - np.log(marginal + 1e-12))).sum(1).mean()
        print(f"{path}: classifier score {np.exp(kl):.3f}, Frechet feature distance {frechet(f, test_features):.2f}")


if __name__ == "__main__":
    main()
