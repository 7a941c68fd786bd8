/** Peer credentials live in common/peercred/ (the server's admin socket reads them too). */
export * from '../../common/peercred/peer-credentials.js'
