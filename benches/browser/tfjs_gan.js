// The same GAN as ganvas (PyTorch's original), written the way a competent
// TensorFlow.js user would: variables, optimizer.minimize, tf.tidy, data on the
// device. Open tfjs.html?backend=webgpu|webgl|wasm&batch=64; the result lands in
// window.benchResult (steps per second over about `seconds` after a warm-up).

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

async function bench() {
  const params = new URLSearchParams(location.search);
  const backend = params.get('backend') ?? 'webgl';
  const batch = Number(params.get('batch') ?? 64);
  const seconds = Number(params.get('seconds') ?? 10);
  if (backend === 'wasm') tf.wasm.setWasmPaths('node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
  await tf.ready();

  const count = 10_000;
  const data = tf.tensor2d(await mnistImages(count), [count, 784]);
  const g = mlp([100, 256, 512, 1024, 784]);
  const d = mlp([784, 512, 256, 1]);
  const gVars = g.flatMap((l) => [l.w, l.b]);
  const dVars = d.flatMap((l) => [l.w, l.b]);
  const G = (z) => apply(g, z, tf.tanh);
  const D = (x) => apply(d, x, (v) => v); // logits: the sigmoid is in the loss
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
      const z = tf.randomNormal([batch, 100]);
      const fake = G(z);
      optD.minimize(() => tf.mul(0.5, tf.add(bce(ones, D(real)), bce(zeros, D(fake)))), false, dVars);
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
  return { backend: tf.getBackend(), batch, stepsPerSecond: steps / elapsed, loss: (await lastLoss.data())[0] };
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
