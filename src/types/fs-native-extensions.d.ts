// The two functions Covenant uses from fs-native-extensions (which ships no types): an
// open-file-description lock (fcntl F_OFD_SETLK on Linux, flock on macOS, LockFileEx on
// Windows) that the kernel releases when the holder's descriptor closes or the process dies.
declare module 'fs-native-extensions' {
  /** Takes the lock on `fd` without waiting; false when another description holds it. */
  export function tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean
  export function unlock(fd: number, offset?: number, length?: number): void
}
