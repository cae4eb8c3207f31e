print("shm-admin")
