/**
 * A chunk's rgb24 frames [count, H, W, 3], handed over in parts of whole frames as they are made, so
 * the encoder can start on the first while the later ones are still being converted.
 */
export interface FrameParts {
  count: number;
  parts: AsyncIterable<Uint8Array>;
}
