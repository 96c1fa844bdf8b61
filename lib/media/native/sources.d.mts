// Types for sources.mjs (plain JavaScript: build.mjs runs it before any TypeScript tooling).
export declare const nativeDir: string
export declare function nativeSources (): string[]
export declare function sourcesHash (): string
