/**
 * Float32-accurate activation math on plain numbers, shared by the trainer's fused LSTM op
 * (model/fused-lstm.ts) and the scorer's step kernel (scoring/lstm-kernel.ts), so both compute the same
 * values without either depending on the other.
 */

/**
 * tanh as a rational function (the minimax approximation Eigen and XNNPACK use for float32 tanh):
 * |error| < 3e-7 against Math.tanh (about float32 resolution), and faster than 2·sigmoid(2z) − 1
 * through Math.exp, which dominated the forward step.
 */
const TANH_CLAMP = 7.905311107635498; // beyond it the approximation is ±1 to float32 precision

export function tanh(z: number): number {
  const x = z > TANH_CLAMP ? TANH_CLAMP : z < -TANH_CLAMP ? -TANH_CLAMP : z;
  const x2 = x * x;
  let p = -2.76076847742355e-16;
  p = p * x2 + 2.00018790482477e-13;
  p = p * x2 - 8.60467152213735e-11;
  p = p * x2 + 5.12229709037114e-8;
  p = p * x2 + 1.48572235717979e-5;
  p = p * x2 + 6.37261928875436e-4;
  p = p * x2 + 4.89352455891786e-3;
  let q = 1.19825839466702e-6;
  q = q * x2 + 1.18534705686654e-4;
  q = q * x2 + 2.268434632439e-3;
  q = q * x2 + 4.89352518554385e-3;
  return (x * p) / q;
}
