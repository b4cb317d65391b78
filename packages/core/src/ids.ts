/**
 * Random ids (Web Crypto, so ids are unpredictable across processes): 10 lowercase base-36 characters.
 * Plain code without Effect, shared by `Domain.makeSessionId` and the start-up fast path.
 */
const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

/** A fresh random id of `length` base-36 characters. */
export const randomId = (length = 10): string => {
  const bytes = new Uint8Array(length)
  globalThis.crypto.getRandomValues(bytes)
  let id = ""
  for (const b of bytes) id += alphabet[b % 36]
  return id
}
