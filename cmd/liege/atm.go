package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/liege-db/liege/apps/atm"
	"github.com/urfave/cli/v2"
)

// `liege atm ...` calls the procedures of the atm application (apps/atm)
// on a running `liege serve --app atm`, one subcommand per procedure. The
// shared helpers (appSession) are in ticketing.go.

func atmCommand() *cli.Command {
	return &cli.Command{
		Name:  "atm",
		Usage: "run bank accounts and cash machines on an instance serving --app atm",
		UsageText: `liege atm COMMAND [flags] ARGS...
   liege atm open --withdrawal-fee 1 --overdraft-fee 25 ann 100
   liege atm deposit ann 50
   liege atm withdraw ann 80
   liege atm transfer ann bob 30
   liege atm balance ann
   liege atm statement --limit 10 ann`,
		Description: `Calls the procedures of the atm application on a running instance (start
one with ` + "`liege serve --dir DIR --id A --app atm`" + `; --addr or LIEGE_ADDR says
where it is). Amounts are whole numbers, in the smallest unit of money.

A withdrawal the vassal's machine dispensed while cut off from the liege
may turn out to overdraw the account (the liege's machine emptied it
meanwhile): the cash is out, so the liege debits it anyway, flags the
account overdrawn and charges its overdraft fee. ` + "`liege atm balance`" + ` shows
the flag; ` + "`liege txn TXID`" + ` tells what became of a withdrawal.

Every command prints what happened in words; --json prints the instance's
answer as it is. Flags go before the arguments.`,
		Subcommands: []*cli.Command{
			{
				Name:      "open",
				Usage:     "open an account with an opening balance",
				ArgsUsage: "ACCOUNT OPENING",
				UsageText: `liege atm open [flags] ACCOUNT OPENING
   liege atm open ann 100
   liege atm open --withdrawal-fee 1 --overdraft-fee 25 bob 0`,
				Description: `Opens ACCOUNT with the OPENING balance and a fee schedule: --withdrawal-fee
is charged with every withdrawal (which must cover it), --overdraft-fee
when a withdrawal dispensed during a partition overdraws the account. An
account that is open already is left as it is ("exists").`,
				Flags: append(clientFlags(),
					&cli.Int64Flag{Name: "withdrawal-fee", Usage: "charge `N` with every withdrawal"},
					&cli.Int64Flag{Name: "overdraft-fee", Usage: "charge `N` for every overdraft"},
				),
				Action: runATMOpen,
			},
			{
				Name:      "deposit",
				Usage:     "pay money into an account",
				ArgsUsage: "ACCOUNT AMOUNT",
				UsageText: `liege atm deposit [flags] ACCOUNT AMOUNT
   liege atm deposit ann 50`,
				Description: `Credits AMOUNT to ACCOUNT. Deposits never conflict, even at both instances
at once.`,
				Flags:  clientFlags(),
				Action: runATMDeposit,
			},
			{
				Name:      "withdraw",
				Usage:     "withdraw cash from an account",
				ArgsUsage: "ACCOUNT AMOUNT",
				UsageText: `liege atm withdraw [flags] ACCOUNT AMOUNT
   liege atm withdraw ann 80`,
				Description: `Dispenses AMOUNT if the balance covers it and the withdrawal fee:

  dispensed 80

and otherwise denies it, committing nothing:

  denied: balance 20 does not cover 80 and the withdrawal fee of 1`,
				Flags:  clientFlags(),
				Action: runATMWithdraw,
			},
			{
				Name:      "transfer",
				Usage:     "move money between two accounts",
				ArgsUsage: "FROM TO AMOUNT",
				UsageText: `liege atm transfer [flags] FROM TO AMOUNT
   liege atm transfer ann bob 30`,
				Description: `Moves AMOUNT from account FROM to account TO if FROM's balance covers it;
otherwise nothing moves ("insufficient").`,
				Flags:  clientFlags(),
				Action: runATMTransfer,
			},
			{
				Name:      "balance",
				Usage:     "show an account's balance and status",
				ArgsUsage: "ACCOUNT",
				UsageText: `liege atm balance [flags] ACCOUNT
   liege atm balance ann`,
				Description: `Shows ACCOUNT's balance and status: open, or overdrawn (a withdrawal
dispensed during a partition was honoured although the balance did not
cover it; the flag stays until the bank clears it).`,
				Flags:  clientFlags(),
				Action: runATMBalance,
			},
			{
				Name:      "statement",
				Usage:     "list an account's entries",
				ArgsUsage: "ACCOUNT",
				UsageText: `liege atm statement [flags] ACCOUNT
   liege atm statement ann
   liege atm statement --limit 10 ann`,
				Description: `Lists ACCOUNT's entries, oldest first: when, what, the other account of a
transfer, and the amount (negative for money out). With --limit, only the
most recent ones.`,
				Flags: append(clientFlags(),
					&cli.Int64Flag{Name: "limit", Usage: "list only the `N` most recent entries", DefaultText: "0, all of them"},
				),
				Action: runATMStatement,
			},
		},
	}
}

var noAccountRe = regexp.MustCompile(`no account "([^"]*)"`)

// atmHint turns an atm procedure's error into one that says what to do, or
// returns nil.
func atmHint(_ *appSession, msg string) error {
	if m := noAccountRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("there is no account %s: open it with `liege atm open %s OPENING`", m[1], m[1])
	}
	return nil
}

func atmSession(c *cli.Context, min, max int) (*appSession, error) {
	return newAppSession(c, atm.Name, min, max, atmHint)
}

// amountArg parses a positive amount argument.
func amountArg(c *cli.Context, i int) (int64, error) {
	return positive("AMOUNT", c.Args().Get(i), c)
}

func runATMOpen(c *cli.Context) error {
	s, err := atmSession(c, 2, 2)
	if err != nil {
		return err
	}
	args := atm.OpenArgs{Account: c.Args().Get(0), Fees: atm.Fees{Withdrawal: c.Int64("withdrawal-fee"), Overdraft: c.Int64("overdraft-fee")}}
	if v := c.Args().Get(1); v != "0" {
		if args.Opening, err = positive("OPENING", v, c); err != nil {
			return fmt.Errorf("OPENING %q is not a whole number of 0 or more; usage: %s", v, strings.SplitN(c.Command.UsageText, "\n", 2)[0])
		}
	}
	if args.Fees.Withdrawal < 0 || args.Fees.Overdraft < 0 {
		return fmt.Errorf("the fees (--withdrawal-fee %d, --overdraft-fee %d) must not be negative", args.Fees.Withdrawal, args.Fees.Overdraft)
	}
	var out string
	res, err := s.call(atm.ProcOpenAccount, args, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	switch out {
	case atm.Opened:
		s.printf("opened: account %s with %d (fees: withdrawal %d, overdraft %d)\n", args.Account, args.Opening, args.Fees.Withdrawal, args.Fees.Overdraft)
	case atm.Exists:
		s.printf("exists: account %s is open already, and nothing was changed; `liege atm balance %s` shows it\n", args.Account, args.Account)
	default:
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

func runATMDeposit(c *cli.Context) error {
	s, err := atmSession(c, 2, 2)
	if err != nil {
		return err
	}
	amount, err := amountArg(c, 1)
	if err != nil {
		return err
	}
	args := atm.AmountArgs{Account: c.Args().Get(0), Amount: amount}
	var out string
	res, err := s.call(atm.ProcDeposit, args, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	if out == atm.Deposited {
		s.printf("deposited %d into %s\n", amount, args.Account)
	} else {
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

func runATMWithdraw(c *cli.Context) error {
	s, err := atmSession(c, 2, 2)
	if err != nil {
		return err
	}
	amount, err := amountArg(c, 1)
	if err != nil {
		return err
	}
	args := atm.AmountArgs{Account: c.Args().Get(0), Amount: amount}
	var w atm.Withdrawal
	res, err := s.call(atm.ProcWithdraw, args, &w)
	if err != nil || c.Bool("json") {
		return err
	}
	switch w.Outcome {
	case atm.Dispensed:
		s.printf("dispensed %d\n", w.Amount)
	case atm.Denied:
		s.printf("denied: %s\n", s.whyDenied(args.Account, amount))
	default:
		s.printf("%s\n", w.Outcome)
	}
	s.committed(res)
	return nil
}

// whyDenied says why a withdrawal was denied: the balance (and the fee)
// as the instance has them now.
func (s *appSession) whyDenied(account string, amount int64) string {
	var b atm.Balance
	if _, err := s.call(atm.ProcBalance, atm.AccountArgs{Account: account}, &b); err != nil {
		return fmt.Sprintf("the balance of %s does not cover %d", account, amount)
	}
	why := fmt.Sprintf("balance %d does not cover %d", b.Balance, amount)
	var acct atm.Account
	if res, err := s.cl.Get(s.c.Context, []any{atm.AccountPrefix, account}); err == nil && res.Found &&
		json.Unmarshal(res.Value, &acct) == nil && acct.Fees.Withdrawal > 0 {
		why += fmt.Sprintf(" and the withdrawal fee of %d", acct.Fees.Withdrawal)
	}
	return why
}

func runATMTransfer(c *cli.Context) error {
	s, err := atmSession(c, 3, 3)
	if err != nil {
		return err
	}
	amount, err := amountArg(c, 2)
	if err != nil {
		return err
	}
	args := atm.TransferArgs{From: c.Args().Get(0), To: c.Args().Get(1), Amount: amount}
	if args.From == args.To {
		return fmt.Errorf("FROM and TO are the same account %s: a transfer moves money between two accounts", args.From)
	}
	var out string
	res, err := s.call(atm.ProcTransfer, args, &out)
	if err != nil || c.Bool("json") {
		return err
	}
	switch out {
	case atm.Transferred:
		s.printf("transferred %d from %s to %s\n", amount, args.From, args.To)
	case atm.Insufficient:
		var b atm.Balance
		why := fmt.Sprintf("the balance of %s does not cover %d", args.From, amount)
		if _, err := s.call(atm.ProcBalance, atm.AccountArgs{Account: args.From}, &b); err == nil {
			why = fmt.Sprintf("the balance %d of %s does not cover %d", b.Balance, args.From, amount)
		}
		s.printf("insufficient: %s, and nothing moved\n", why)
	default:
		s.printf("%s\n", out)
	}
	s.committed(res)
	return nil
}

func runATMBalance(c *cli.Context) error {
	s, err := atmSession(c, 1, 1)
	if err != nil {
		return err
	}
	account := c.Args().First()
	var b atm.Balance
	if _, err := s.call(atm.ProcBalance, atm.AccountArgs{Account: account}, &b); err != nil || c.Bool("json") {
		return err
	}
	if b.Status == atm.StatusOverdrawn {
		s.printf("%s: balance %d, overdrawn (a withdrawal was honoured that the balance did not cover; `liege atm statement %s` shows the overdraft fee)\n", account, b.Balance, account)
	} else {
		s.printf("%s: balance %d, %s\n", account, b.Balance, b.Status)
	}
	return nil
}

func runATMStatement(c *cli.Context) error {
	s, err := atmSession(c, 1, 1)
	if err != nil {
		return err
	}
	limit := c.Int64("limit")
	if limit < 0 {
		return fmt.Errorf("--limit %d: want a number of entries, or 0 for all", limit)
	}
	account := c.Args().First()
	var st atm.Statement
	if _, err := s.call(atm.ProcStatement, atm.StatementArgs{Account: account, Limit: limit}, &st); err != nil || c.Bool("json") {
		return err
	}
	if len(st.Entries) == 0 {
		s.printf("account %s has no entries\n", account)
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 8, 2, ' ', 0)
	var sum int64
	for _, e := range st.Entries {
		sum += e.Amount
		cp := e.Counterparty
		if cp != "" {
			if e.Amount < 0 {
				cp = "to " + cp
			} else {
				cp = "from " + cp
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", e.At, e.Kind, cp, e.Amount)
	}
	if limit == 0 {
		fmt.Fprintf(tw, "\tbalance\t\t%d\n", sum)
	}
	return tw.Flush()
}
