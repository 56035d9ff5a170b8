from prepbot.cli import main

main()
