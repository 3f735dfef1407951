// Prints one JSON line naming the GPU: nvidia-smi's line (argv[2], may be empty) and the WebGPU
// adapter Dawn picks for the trainer's webgpu backend, or why there is none.
const { selectBackend } = await import(new URL('./dist/model/backend.js', import.meta.url).href);
const selection = await selectBackend({ requested: 'webgpu' }).catch((error) => ({ error: error.message }));
console.log(
  JSON.stringify({
    nvidiaSmi: process.argv[2] || null,
    adapter: selection.adapter ?? null,
    error: selection.error ?? null,
    vulkanDriver: process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? null,
    node: process.version,
  }),
);
process.exit(0);
