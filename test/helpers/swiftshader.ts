import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Points the Vulkan loader at SwiftShader (the software Vulkan device in Debian's chromium package,
 * which scripts/test installs) unless VK_ICD_FILENAMES already names a driver (a GPU's, to run the
 * same checks there). The loader reads it when Dawn creates its instance, i.e. at the first
 * selectBackend. No Vulkan device means a failure, not a skip.
 */
export function useVulkanDevice(): void {
  if (process.env['VK_ICD_FILENAMES'] === undefined) {
    assert.ok(
      existsSync(SWIFTSHADER_ICD),
      `${SWIFTSHADER_ICD} is missing: apt-get install chromium libvulkan1 (scripts/test does), or set VK_ICD_FILENAMES`,
    );
    process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
  }
  tf.env().set('PROD', true);
}
