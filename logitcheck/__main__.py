from ._entry import main

if __name__ == "__main__":  # not when a spawned process (a dask worker) imports it
    main()
