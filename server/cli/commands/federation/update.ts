/** `sigil-server federation update`: see ../federation.ts and relationship-flags.ts. */
import { relationshipVerb } from './relationship-flags.js'

/** Runs the verb. */
export const run = relationshipVerb('update')
