import sys

from capability.cli import main

sys.exit(main())
