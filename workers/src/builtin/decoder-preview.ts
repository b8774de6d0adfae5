import type { LatentPreview } from "@videosdgx/shared";

/**
 * The preview projection of a built-in model whose decoder computes rgb[j] = f(sum_k W[j][k] z[k] + b[j])
 * from the denormalised latent z[k] = x[k] scale[k] + shift[k] (f = tanh, or the identity): its linear
 * part on the sampler's latent x, factors[k][j] = W[j][k] scale[k] and bias[j] = sum_k W[j][k] shift[k] + b[j].
 * Exact where f is the identity (tiny), within tanh's bend elsewhere.
 */
export function decoderPreview(
  channels: number,
  weight: (j: number, k: number) => number,
  scale: (k: number) => number,
  shift: (k: number) => number = () => 0,
  bias: (j: number) => number = () => 0,
): LatentPreview {
  const row = (f: (j: number) => number): [number, number, number] => [f(0), f(1), f(2)];
  return {
    latent_rgb_factors: Array.from({ length: channels }, (_, k) => row((j) => weight(j, k) * scale(k))),
    latent_rgb_bias: row((j) => Array.from({ length: channels }, (_, k) => weight(j, k) * shift(k)).reduce((a, b) => a + b, bias(j))),
  };
}
