import sys

from nnjax.distributed._launch import main

if __name__ == "__main__":
    sys.exit(main())
