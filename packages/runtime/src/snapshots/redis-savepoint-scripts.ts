/**
 * The Lua scripts of RedisSavepointStore: each check and the writes it guards run as one atomic
 * step on the server. Several touch keys of more than one hash tag (job, savepoint, index), which a
 * standalone Redis allows and Redis Cluster does not.
 */

/**
 * Metadata set only if absent, and listed in the index in the same step: a savepoint is listed
 * exactly when its metadata (written after every blob) is there. KEYS meta, index; ARGV json, score, id.
 */
export const COMMIT_METADATA = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1`;

/**
 * Commit an import whose blobs were staged under its own token, in one command: refused if the
 * metadata exists (another import of the id, or a savepoint already listed, won), so a late import
 * never overwrites a listed savepoint's blobs. KEYS[1] meta, KEYS[2] index, then n staged blobs,
 * then their n final keys; ARGV json, score, id. {1} done, {0} metadata exists, {2, i} staged blob
 * i (from 1) is gone (expired). Nothing is renamed unless every check passed.
 */
export const COMMIT_IMPORT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0} end
local n = (#KEYS - 2) / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[2 + i]) == 0 then return {2, i} end
end
for i = 1, n do
  redis.call('RENAME', KEYS[2 + i], KEYS[2 + n + i])
  redis.call('PERSIST', KEYS[2 + n + i])
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return {1}`;

/** KEYS the blobs: the size of each (0 for a missing one), in one command. */
export const BLOB_SIZES = `
local sizes = {}
for i = 1, #KEYS do sizes[i] = redis.call('STRLEN', KEYS[i]) end
return sizes`;

/**
 * KEYS[1] the pending marker, KEYS[2..] the blobs: closes the fence and reads every size in one
 * command. (A MULTI of one STRLEN per blob cost the client 7-33 ms for ~700 parts.)
 */
export const SEAL = `
local closed = redis.call('DEL', KEYS[1])
local sizes = {}
for i = 2, #KEYS do sizes[i - 1] = redis.call('STRLEN', KEYS[i]) end
return {closed, sizes}`;

/**
 * Close the fence, check the blobs and store the metadata, in one command: the record step of a
 * detached savepoint whose workers reported their bytes. KEYS[1] the pending marker, KEYS[2] meta,
 * KEYS[3] index, KEYS[4] the references; ARGV json, score, id, the bytes the workers reported, the
 * references' JSON ('' for none), then the keys of the blobs to check (the savepoint's own, then
 * the job blobs it refers to) in one string, separated by newlines (keys hold none). {1} done, {0}
 * not pending, {2, i} blob i (from 1) missing, {3} metadata exists, {4, bytes} the blobs hold other
 * than the reported bytes. Nothing is stored unless every check passed; the references are stored
 * with the metadata, so a savepoint is never listed without them.
 *
 * The blob keys travel as one argument, not as KEYS: a savepoint of 1M keys checks 300-1,500 of
 * them, and encoding each as its own argument in the coordinator took longer than the script
 * (bench/README.md, "The record step"). Like COPY_REFERENCES (redis-savepoint-references.ts), this needs a standalone Redis.
 */
export const SEAL_AND_COMMIT = `
if redis.call('DEL', KEYS[1]) ~= 1 then return {0} end
local total = 0
local i = 0
for key in string.gmatch(ARGV[6], '[^\\n]+') do
  i = i + 1
  local size = redis.call('STRLEN', key)
  if size == 0 then return {2, i} end
  total = total + size
end
if total ~= tonumber(ARGV[4]) then return {4, total} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {3} end
if #ARGV[5] > 0 then redis.call('SET', KEYS[4], ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return {1}`;

/**
 * KEYS[1] meta, KEYS[2] the pending marker, KEYS[3..] the other keys of one savepoint id; ARGV[1]
 * seconds. Deletes them if there is no metadata and no blob was touched for ARGV[1] seconds (OBJECT
 * IDLETIME, which touches nothing): what a coordinator that died while taking a savepoint left.
 * The marker's own idle time means nothing: its value, the attempt, is one of Redis's shared
 * integers. Deleting a marker alone only fences a savepoint that no blob was written for yet.
 * 1 deleted, 0 left.
 */
export const SWEEP_ORPHAN = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local min = tonumber(ARGV[1])
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('OBJECT', 'IDLETIME', KEYS[i]) < min then return 0 end
end
for i = 2, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1`;

/** KEYS[1] meta; ARGV expected, next: the metadata is replaced only if it still is what the caller read. */
export const REPLACE_METADATA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;
