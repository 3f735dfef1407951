# Sourced by the GPU bundle's scripts (HERE = the bundle's folder): points the Vulkan loader at the
# machine's GPU. The loader: the machine's libvulkan.so.1 where it has one, else the one in lib/.
# The driver: VK_ICD_FILENAMES or VK_DRIVER_FILES where set, else the first NVIDIA ICD file found in
# the usual places (/usr/local/nvidia/share/vulkan/icd.d, /usr/share/vulkan/icd.d, /etc/vulkan/icd.d).
# For a CPU-only check: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
if ! { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  export LD_LIBRARY_PATH="$HERE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "[gpu-bundle] no Vulkan loader on the machine: using lib/libvulkan.so.1" >&2
fi
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [[ -d $dir ]]; then export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir"; fi
done
if [[ -z "${VK_ICD_FILENAMES:-}" && -z "${VK_DRIVER_FILES:-}" ]]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json; do
    if [[ -f $icd ]]; then
      export VK_ICD_FILENAMES="$icd" VK_DRIVER_FILES="$icd"
      break
    fi
  done
fi
echo "[gpu-bundle] Vulkan driver: ${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-the default search of the loader}}" >&2
