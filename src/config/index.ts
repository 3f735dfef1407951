export { ConfigError, envNameFor, listEnvVariables, loadConfig, type LoadConfigOptions } from './load.js';
export { type Config, configSchema } from './schema.js';
export { redactSecrets, REDACTED } from './redact.js';
export { readConfigFile } from './files.js';
