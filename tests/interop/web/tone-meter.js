// AudioWorklet processor: measures, every `hopMs`, how much of the last `windowMs` of
// audio sits at each of the given frequencies (Goertzel at the exact frequency over a
// Hann-windowed block). Posts {time, meanSquare, ratios} to the page; a ratio is the
// share of the block's power at that frequency: a pure sine at f gives 1 at f, a DTMF
// key (two equal sines) about 0.5 at each of its two frequencies.

class ToneMeter extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    const { frequencies, windowMs, hopMs } = processorOptions;
    this.size = Math.round((sampleRate * windowMs) / 1000);
    this.hop = Math.round((sampleRate * hopMs) / 1000);
    this.block = new Float32Array(this.size);
    this.filled = 0;
    this.hann = new Float32Array(this.size);
    let sum = 0;
    for (let n = 0; n < this.size; n++) {
      this.hann[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (this.size - 1));
      sum += this.hann[n];
    }
    // |X(f)| of a windowed sine of amplitude A at f is A * sum(w) / 2
    this.amplitudeScale = (sum / 2) ** 2;
    this.coefficients = frequencies.map((f) => 2 * Math.cos((2 * Math.PI * f) / sampleRate));
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (let i = 0; i < channel.length; i++) {
        this.block[this.filled++] = channel[i];
        if (this.filled === this.size) {
          this.analyse();
          this.block.copyWithin(0, this.hop);
          this.filled = this.size - this.hop;
        }
      }
    }
    return true;
  }

  analyse() {
    const { block, hann, size } = this;
    let energy = 0;
    for (let n = 0; n < size; n++) energy += block[n] * block[n];
    const meanSquare = energy / size;
    const ratios = this.coefficients.map((c) => {
      let s1 = 0;
      let s2 = 0;
      for (let n = 0; n < size; n++) {
        const s = block[n] * hann[n] + c * s1 - s2;
        s2 = s1;
        s1 = s;
      }
      const power = s1 * s1 + s2 * s2 - c * s1 * s2;
      const amplitudeSquared = power / this.amplitudeScale;
      return meanSquare > 0 ? amplitudeSquared / 2 / meanSquare : 0;
    });
    this.port.postMessage({ time: currentTime, meanSquare, ratios });
  }
}

registerProcessor('tone-meter', ToneMeter);
