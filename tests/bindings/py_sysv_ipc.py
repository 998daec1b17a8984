# Python's sysv_ipc (Debian: python3-sysv-ipc): create, write, read,
# fork (the child writes and exits), remove.
import sysv_ipc, os
m = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, size=1 << 20)
m.write(b"hello python")
print(m.read(12), m.size, m.number_attached)
pid = os.fork()
if pid == 0:
    m.write(b"from child  ")
    os._exit(0)
os.waitpid(pid, 0)
print(m.read(12), m.number_attached, m.last_pid == pid)
m.detach(); m.remove(); print("python done")
