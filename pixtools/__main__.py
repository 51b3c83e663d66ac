from pixtools.cli import main

main()
