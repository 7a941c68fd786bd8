/** The peercred native addon's loader lives in common/peercred/ (the admin socket reads peer credentials too). */
export * from '../../common/peercred/native-addon.js'
