"""A minimal Android device for tests: the adb wire protocol served to the real adb client."""
