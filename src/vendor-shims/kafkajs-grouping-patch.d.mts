// Types of kafkajs-grouping-patch.mjs for the TypeScript callers.
export declare const QUADRATIC: string;
export declare const LINEAR: string;
export declare function groupingState(text: string): 'already' | 'quadratic' | 'unknown';
export declare function patchGroupMessages(path: string): 'patched' | 'already' | 'unknown';
export declare function groupMessagesPath(): string;
