export { Vad, type VadEvent, type VadOptions, type FrameClass, type FrameVerdict } from './vad.ts'
export { FeatureExtractor, type FrameFeatures } from './features.ts'
export { vadSchema, type VadConfig } from './config.ts'
