// `node --import=./test/helpers/ts-loader/register.mjs`: the test processes' TypeScript loader
// (see hooks.mjs for why it is not tsx). Stack traces point into the .ts sources, as under tsx.
import { register } from 'node:module'

process.setSourceMapsEnabled(true)
register('./hooks.mjs', import.meta.url)
