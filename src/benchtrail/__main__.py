from benchtrail.cli import main

main()
