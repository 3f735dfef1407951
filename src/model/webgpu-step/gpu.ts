/// <reference types="@webgpu/types" />
/**
 * The WebGPU plumbing the training step's parts share: buffers it owns (destroyed together), programs
 * with an explicit binding layout, bind groups and reads back to the host.
 */

/** A compute pipeline and the layout its bind groups follow. */
export interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Workgroups for a 1-D job, spread over x and y (x is capped at WebGPU's guaranteed 65,535). */
export const grid = (workgroups: number): [number, number] => {
  const x = Math.min(workgroups, 65535);
  return [Math.max(1, x), Math.max(1, Math.ceil(workgroups / x))];
};

export class GpuKit {
  private readonly owned: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` (rounded up to 4, at least 16), destroyed with the kit. */
  buffer(bytes: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    this.owned.push(b);
    return b;
  }

  /** A storage buffer of `floats` 32-bit values (`extra`: more usages). */
  storage(floats: number, extra = 0): GPUBuffer {
    return this.buffer(4 * floats, GPUBufferUsage.STORAGE | extra);
  }

  /**
   * A program whose bindings are the step's uniform (0), the batch rows (1) and then one storage
   * buffer per letter of `accesses`: r (read) or w (read and written).
   */
  kernel(code: string, accesses: string): Kernel {
    const types: GPUBufferBindingType[] = [
      'uniform',
      'read-only-storage',
      ...[...accesses].map((a): GPUBufferBindingType => (a === 'w' ? 'storage' : 'read-only-storage')),
    ];
    const layout = this.device.createBindGroupLayout({
      entries: types.map((type, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type },
      })),
    });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.device.createShaderModule({ code }), entryPoint: 'main' },
    });
    return { pipeline, layout };
  }

  /** `kernel`'s bindings, in binding order. */
  group(kernel: Kernel, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: kernel.layout,
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** The first `floats` values of `buffer`, once the work queued before this call has run. */
  async read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    const staging = this.device.createBuffer({
      size: Math.max(4, 4 * floats),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, 0, staging, 0, 4 * floats);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const values = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return values;
  }

  destroy(): void {
    for (const b of this.owned.splice(0)) b.destroy();
  }
}
