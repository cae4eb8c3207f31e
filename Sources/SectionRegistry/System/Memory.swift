import CShmLinux
import SystemSeam

#if canImport(Glibc)
    import Glibc
#endif

/// The calls on this process's own address space that the server's views make.
enum Memory {
    /// munmap(2).
    static func unmap(_ address: UInt, length: Int) {
        munmap(UnsafeMutableRawPointer(bitPattern: address), length)
    }

    /// Copies from this process's memory at `address` into `buffer`, failing with EFAULT instead of
    /// raising SIGBUS where the pages are gone (a truncated object): process_vm_readv(2) on itself.
    static func copy(from address: UInt, into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        try syscall(.processVMRead) {
            cshm_self_read(buffer.baseAddress, UnsafeRawPointer(bitPattern: address), buffer.count)
        }
    }

    /// Copies `buffer` into this process's memory at `address`, EFAULT instead of SIGBUS:
    /// process_vm_writev(2) on itself.
    static func copy(_ buffer: UnsafeRawBufferPointer, to address: UInt) throws(SystemCallError) -> Int {
        try syscall(.processVMWrite) {
            cshm_self_write(UnsafeMutableRawPointer(bitPattern: address), buffer.baseAddress, buffer.count)
        }
    }

    /// Claims `length` bytes of free address space at exactly `address` (nil: the kernel's choice),
    /// EEXIST when anything is mapped there: mmap(2) PROT_NONE with MAP_FIXED_NOREPLACE.
    static func claim(at address: UInt?, length: Int) throws(SystemCallError) -> UInt {
        let claimed = try syscall(.mmap, failure: MAP_FAILED) {
            cshm_reserve_range(address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }, length)
        }
        return UInt(bitPattern: claimed)
    }

    /// Moves the mapping at `address` onto the range claimed at `destination`: mremap(2) with
    /// MREMAP_MAYMOVE | MREMAP_FIXED.
    static func move(_ address: UInt, length: Int, to destination: UInt) throws(SystemCallError) {
        try syscall(.mremap, failure: MAP_FAILED) {
            cshm_mremap_fixed(
                UnsafeMutableRawPointer(bitPattern: address), length, length,
                UnsafeMutableRawPointer(bitPattern: destination))
        }
    }
}
