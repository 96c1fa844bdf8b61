import { deadAirTable } from './dead-air.ts'

// The dead-air table's stream-mode half (the other half is its own test file, run alongside).
deadAirTable('stream')
