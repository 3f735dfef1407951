// Types of kafkajs-patch.mjs for the TypeScript tests.
export declare const QUADRATIC: string;
export declare const LINEAR: string;
export declare function patchGroupMessages(path: string): 'patched' | 'already' | 'unknown';
export declare function groupMessagesPath(): string;
