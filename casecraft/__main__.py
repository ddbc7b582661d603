from casecraft.cli.main import main

main()
