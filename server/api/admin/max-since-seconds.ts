/**
 * The look-back limit of `ListSvids`, in a module of its own so that `sigil-server svid list`
 * checks `--since` without loading the admin API's handlers (and gRPC).
 */

/** Longest look-back of `svid list --since`: 100 years (anything longer is no filter at all). */
export const MAX_SINCE_SECONDS = 100 * 365 * 86_400
