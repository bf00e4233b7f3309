from compplan.cli.main import main

main()
