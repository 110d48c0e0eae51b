// The same GANs as ganvas (PyTorch's original MLP GAN, and pytorch/examples' DCGAN
// at 32×32), written the way a competent TensorFlow.js user would: variables,
// optimizer.minimize, tf.tidy, data on the device. Open
// tfjs.html?backend=webgpu|webgl|wasm&batch=64[&model=dcgan&width=64]; the result
// lands in window.benchResult (steps per second over about `seconds` after a warm-up).

async function mnistImages(count) {
  const response = await fetch('../../data/mnist/train-images-idx3-ubyte.gz');
  const stream = response.body.pipeThrough(new DecompressionStream('gzip'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const images = new Float32Array(count * 784);
  for (let i = 0; i < images.length; i++) images[i] = (bytes[16 + i] / 255 - 0.5) / 0.5;
  return images;
}

// nn.Linear's default initialisation: uniform in ±1/sqrt(fan_in).
function linear(inputs, outputs) {
  const bound = 1 / Math.sqrt(inputs);
  return {
    w: tf.variable(tf.randomUniform([inputs, outputs], -bound, bound)),
    b: tf.variable(tf.randomUniform([outputs], -bound, bound)),
  };
}

function mlp(widths) {
  return widths.slice(1).map((w, i) => linear(widths[i], w));
}

function apply(layers, x, last) {
  layers.forEach((layer, i) => {
    x = tf.add(tf.matMul(x, layer.w), layer.b);
    x = i < layers.length - 1 ? tf.leakyRelu(x, 0.2) : last(x);
  });
  return x;
}

// The lecture's MLP GAN: G 100→256→512→1024→784, D 784→512→256→1 (logits).
function mlpGan(images, count) {
  const g = mlp([100, 256, 512, 1024, 784]);
  const d = mlp([784, 512, 256, 1]);
  return {
    data: tf.tensor2d(images, [count, 784]),
    latent: [100],
    gVars: g.flatMap((l) => [l.w, l.b]),
    dVars: d.flatMap((l) => [l.w, l.b]),
    G: (z) => apply(g, z, tf.tanh),
    D: (x) => apply(d, x, (v) => v), // logits: the sigmoid is in the loss
  };
}

// pytorch/examples' DCGAN at 32×32 (one layer fewer a side than its 64×64), NHWC as
// TF.js lays images out: weights_init's N(0, 0.02) convolutions without biases,
// batch norm with γ ~ N(1, 0.02), β = 0, normalising each call's batch (running
// statistics, a per-channel average that training does not read, are not kept).
function dcgan(images, count, width, batch) {
  const normal = (shape, mean = 0) => tf.variable(tf.randomNormal(shape, mean, 0.02));
  const norm = (channels) => ({ gamma: normal([channels], 1), beta: tf.variable(tf.zeros([channels])) });
  const normalize = (x, bn) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, bn.beta, bn.gamma, 1e-5);
  };
  const [w1, w2, w4] = [width, 2 * width, 4 * width];
  // conv2dTranspose filters are [k, k, out, in]; conv2d's [k, k, in, out].
  const gFilters = [normal([4, 4, w4, 100]), normal([4, 4, w2, w4]), normal([4, 4, w1, w2]), normal([4, 4, 1, w1])];
  const gNorms = [norm(w4), norm(w2), norm(w1)];
  const dFilters = [normal([4, 4, 1, w1]), normal([4, 4, w1, w2]), normal([4, 4, w2, w4]), normal([4, 4, w4, 1])];
  const dNorms = [null, norm(w2), norm(w4)];
  const padded = tf.tidy(() => tf.pad(tf.tensor4d(images, [count, 28, 28, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]], -1));
  const G = (z) => {
    let x = z;
    gFilters.forEach((filter, i) => {
      // 1×1 → 4×4 (stride 1, no padding), then each layer doubles the side
      // ('same' at stride 2 pads a 4×4 kernel by 1 a side, as PyTorch's padding=1).
      const side = i === 0 ? 4 : 2 * x.shape[1];
      x = tf.conv2dTranspose(x, filter, [batch, side, side, filter.shape[2]], i === 0 ? 1 : 2, i === 0 ? 'valid' : 'same');
      x = i < 3 ? tf.relu(normalize(x, gNorms[i])) : tf.tanh(x);
    });
    return x;
  };
  const D = (x) => {
    dFilters.forEach((filter, i) => {
      x = tf.conv2d(x, filter, i < 3 ? 2 : 1, i < 3 ? 'same' : 'valid');
      if (i < 3) x = tf.leakyRelu(dNorms[i] ? normalize(x, dNorms[i]) : x, 0.2);
    });
    return tf.reshape(x, [batch, 1]); // logits: the sigmoid is in the loss
  };
  const normVars = (norms) => norms.filter(Boolean).flatMap((n) => [n.gamma, n.beta]);
  return {
    data: padded,
    latent: [1, 1, 100],
    gVars: [...gFilters, ...normVars(gNorms)],
    dVars: [...dFilters, ...normVars(dNorms)],
    G,
    D,
  };
}

async function bench() {
  const params = new URLSearchParams(location.search);
  const backend = params.get('backend') ?? 'webgl';
  const batch = Number(params.get('batch') ?? 64);
  const seconds = Number(params.get('seconds') ?? 10);
  if (backend === 'wasm') tf.wasm.setWasmPaths('node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
  await tf.ready();

  const model = params.get('model') ?? 'mlp';
  const width = Number(params.get('width') ?? 64);

  const count = 10_000;
  const images = await mnistImages(count);
  const { data, latent, gVars, dVars, G, D } =
    model === 'dcgan' ? dcgan(images, count, width, batch) : mlpGan(images, count);
  const optG = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const optD = tf.train.adam(2e-4, 0.5, 0.999, 1e-8);
  const ones = tf.ones([batch, 1]);
  const zeros = tf.zeros([batch, 1]);
  const bce = (labels, logits) => tf.losses.sigmoidCrossEntropy(labels, logits);

  let lastLoss = null;
  const step = () => {
    lastLoss?.dispose();
    lastLoss = tf.tidy(() => {
      const real = tf.gather(data, tf.randomUniform([batch], 0, count, 'int32'));
      const z = tf.randomNormal([batch, ...latent]);
      const fake = G(z);
      // The MLP GAN's D loss is the lecture's mean of the two halves; the DCGAN's
      // pytorch/examples' sum (D called on each half, so each is normalised alone).
      const dLoss = () => tf.add(bce(ones, D(real)), bce(zeros, D(fake)));
      optD.minimize(() => (model === 'dcgan' ? dLoss() : tf.mul(0.5, dLoss())), false, dVars);
      return optG.minimize(() => bce(ones, D(G(z))), true, gVars);
    });
  };

  for (let i = 0; i < 3; i++) step();
  await lastLoss.data();
  let steps = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 5; i++) step();
    steps += 5;
    await lastLoss.data(); // waits for the device: the timing covers finished steps only
  }
  const elapsed = (performance.now() - start) / 1000;
  return { backend: tf.getBackend(), model, batch, stepsPerSecond: steps / elapsed, loss: (await lastLoss.data())[0] };
}

bench().then(
  (result) => {
    window.benchResult = result;
    document.getElementById('result').textContent = JSON.stringify(result);
  },
  (e) => {
    window.benchResult = { error: e.message ?? String(e) };
    document.getElementById('result').textContent = `error: ${e.message}`;
  },
);
