/** Admin handlers for registration entries: create, update, delete, list, count. */
import { SigilError } from '../../../certs/errors.js'
import { echo } from '../../../certs/lib/echo.js'
import { formatSelector, selectorSet } from '../../../certs/selector/selector.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import { ENTRY_ID_PATTERN, type EntryFilter, type RegistrationEntry } from '../../datastore/records.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { checkSelectors, checkText } from './admin-input.js'
import {
  type EntryFields,
  entryInputFromMessage,
  entryToMessage,
  MUTABLE_ENTRY_FIELDS,
  type MutableEntryField,
} from './entry-message.js'
import { unary } from './unary.js'

type EntryHandlers = Pick<
  AdminAPIHandlers,
  'CreateEntry' | 'UpdateEntry' | 'DeleteEntry' | 'ListEntries' | 'CountEntries'
>

const SERVER_ASSIGNED = ['id', 'revision_number', 'created_at'] as const

function invalid(message: string): never {
  throw new SigilError('ERR_INVALID_ARGUMENT', message)
}

function requireEntryId(id: string, field = 'entry_id'): string {
  if (id === '') invalid(`${field} is required`)
  return checkText(id, field)
}

async function getExisting(deps: AdminApiDeps, id: string): Promise<RegistrationEntry> {
  const entry = await deps.datastore.getEntry(id)
  if (!entry) throw new SigilError('ERR_NOT_FOUND', `no registration entry with id "${echo(id)}"`)
  return entry
}

/** The handlers for the `entry` commands. */
export function entryHandlers(deps: AdminApiDeps): EntryHandlers {
  const { datastore, logger, trustDomain } = deps
  return {
    CreateEntry: unary('CreateEntry', logger, async (req) => {
      const msg = req.entry
      if (!msg) invalid('entry is required')
      if (Number(msg.revision_number) !== 0 || Number(msg.created_at) !== 0) {
        invalid('revision_number and created_at are assigned by the server and must be empty')
      }
      // a caller-chosen ID (`--entry-id`); a taken one is ALREADY_EXISTS
      if (msg.id !== '' && !ENTRY_ID_PATTERN.test(msg.id)) {
        invalid(
          'entry.id must be 1 to 255 characters of A-Z a-z 0-9 . _ : - (or empty: a server-assigned UUID)',
        )
      }
      const input = {
        ...entryInputFromMessage(msg, trustDomain, { requireCaller: !req.allow_script_only }),
        ...(msg.id !== '' ? { id: msg.id } : {}),
      }
      const entry = await datastore.createEntry(input)
      logger.info(
        { entry_id: entry.id, spiffe_id: entry.spiffeId, parent_id: entry.parentId, node: entry.node },
        'registration entry created',
      )
      return { entry: entryToMessage(entry) }
    }),

    UpdateEntry: unary('UpdateEntry', logger, async (req) => {
      const msg = req.entry
      if (!msg) invalid('entry is required')
      const id = requireEntryId(msg.id, 'entry.id')
      const mask = req.update_mask.length === 0 ? [...MUTABLE_ENTRY_FIELDS] : req.update_mask
      for (const field of mask) {
        if ((SERVER_ASSIGNED as readonly string[]).includes(field))
          invalid(`update_mask: ${field} cannot be updated`)
        if (!(MUTABLE_ENTRY_FIELDS as readonly string[]).includes(field)) {
          invalid(`update_mask: unknown field "${field.slice(0, 60)}"`)
        }
      }
      const current = entryToMessage(await getExisting(deps, id))
      const merged: EntryFields = { ...current }
      for (const field of mask as MutableEntryField[]) copyField(merged, msg, field)
      // a node alias always hangs under the server: switching to node=true moves it there
      if (merged.node && !mask.includes('parent_id')) merged.parent_id = ''
      // the caller rule is checked only when the update changes what the entry matches
      const requireCaller = !req.allow_script_only && (mask.includes('selectors') || mask.includes('node'))
      const entry = await datastore.updateEntry(
        id,
        entryInputFromMessage(merged, trustDomain, { requireCaller }),
      )
      logger.info(
        { entry_id: entry.id, spiffe_id: entry.spiffeId, revision: entry.revisionNumber, fields: mask },
        'registration entry updated',
      )
      return { entry: entryToMessage(entry) }
    }),

    DeleteEntry: unary('DeleteEntry', logger, async (req) => {
      const id = requireEntryId(req.entry_id)
      const entry = await datastore.deleteEntry(id)
      logger.info({ entry_id: entry.id, spiffe_id: entry.spiffeId }, 'registration entry deleted')
      return { entry: entryToMessage(entry) }
    }),

    ListEntries: unary('ListEntries', logger, async (req) => {
      const filter: { -readonly [K in keyof EntryFilter]: EntryFilter[K] } = {}
      if (req.spiffe_id !== '') filter.spiffeId = SpiffeId.parse(req.spiffe_id).toString()
      if (req.parent_id !== '') filter.parentId = SpiffeId.parse(req.parent_id).toString()
      if (req.selectors.length > 0)
        filter.selectors = { match: 'superset', selectors: checkSelectors(req.selectors) }
      let entries: RegistrationEntry[]
      if (req.entry_id !== '') {
        const one = await datastore.getEntry(checkText(req.entry_id, 'entry_id'))
        entries = one && matches(one, filter) ? [one] : []
      } else {
        entries = await datastore.listEntries(filter)
      }
      return { entries: entries.map(entryToMessage) }
    }),

    CountEntries: unary('CountEntries', logger, async () => ({ count: await datastore.countEntries() })),
  }
}

function copyField<K extends MutableEntryField>(target: EntryFields, source: EntryFields, field: K): void {
  target[field] = source[field]
}

/** Whether one entry passes the other filters (used with `entry_id`), as the datastore would judge. */
function matches(entry: RegistrationEntry, filter: EntryFilter): boolean {
  if (filter.spiffeId !== undefined && entry.spiffeId !== filter.spiffeId) return false
  if (filter.parentId !== undefined && entry.parentId !== filter.parentId) return false
  const have = selectorSet(entry.selectors)
  return (filter.selectors?.selectors ?? []).every((s) => have.has(formatSelector(s)))
}
