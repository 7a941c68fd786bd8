/**
 * The PostgreSQL advisory lock keys Sigil servers sharing one database coordinate with, in one
 * place so no two purposes collide. Whole-database locks use the one-`bigint` form
 * (`migrate.ts`'s migration lock); per-name locks use the two-`int4` form
 * `(class, hashtext(name))`, which PostgreSQL keeps apart from the `bigint` form. A hash
 * collision between two names of one class only serializes them more than needed.
 *
 * Trust: any role that can connect may take these locks; they coordinate cooperating servers,
 * they do not protect data from other database users.
 */

/** `pg_advisory_xact_lock(BUNDLE_LOCK_CLASS, hashtext(trustDomain))`: one bundle read-modify-write at a time. */
export const BUNDLE_LOCK_CLASS = 0x53_67_42_64 // "SgBd"

/** `pg_try_advisory_lock(EXCLUSIVE_JOB_CLASS, hashtext(name))`: one run of a named job at a time. */
export const EXCLUSIVE_JOB_CLASS = 0x53_67_4a_62 // "SgJb"
