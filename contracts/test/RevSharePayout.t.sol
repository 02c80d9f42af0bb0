// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @dev A payee that tries to withdraw again while being paid, and records what it got.
contract ReentrantPayee {
    RevShare internal immutable target;
    bool public reentryPaid;
    uint256 public received;

    constructor(RevShare target_) {
        target = target_;
    }

    function withdraw() external {
        target.withdraw();
    }

    receive() external payable {
        received += msg.value;
        (bool ok,) = address(target).call(abi.encodeCall(RevShare.withdraw, ()));
        if (ok) reentryPaid = true;
    }
}

/// @dev A payee that refuses ETH.
contract RefusingPayee {
    function withdraw(RevShare target) external {
        target.withdraw();
    }
}

/// @notice `fund` splits ETH by weight among payees, keeps rounding dust for the next funding; `withdraw` pays out.
contract RevSharePayoutTest is RevShareFixture {
    uint256[] internal keys;
    address internal constant FUNDER = address(0xF00D);

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 1);
        revShare = deploy(keys, 1);
        vm.deal(FUNDER, 1000 ether);
    }

    function publish(RevShare.Entry[] memory entries) internal {
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, POOL);
        submit(poolReport(COMMUNITY, POOL, version + 1, last, entries), keys);
    }

    function fund(uint256 amount) internal {
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, POOL);
        vm.prank(FUNDER);
        revShare.fund{value: amount}(COMMUNITY, POOL, pin);
    }

    function test_fundSplitsByWeightAmongPayeesOnly() public {
        publish(sampleEntries()); // alice 50 (payee), bob 30 (no payee), carol 20 (payee)
        fund(7 ether);
        assertEq(revShare.balanceOf(address(0xA11CE)), 5 ether, "alice's share");
        assertEq(revShare.balanceOf(address(0xCA401)), 2 ether, "carol's share");
        (, uint256 dust) = revShare.poolTotals(COMMUNITY, POOL);
        assertEq(dust, 0, "dust");
    }

    function test_fundKeepsRoundingDustForTheNextFunding() public {
        RevShare.Entry[] memory entries = new RevShare.Entry[](3);
        entries[0] = RevShare.Entry("https://ilp.example.com/a", 1, address(0xA000));
        entries[1] = RevShare.Entry("https://ilp.example.com/b", 1, address(0xB000));
        entries[2] = RevShare.Entry("https://ilp.example.com/c", 1, address(0xC000));
        publish(entries);
        fund(10);
        (, uint256 dust) = revShare.poolTotals(COMMUNITY, POOL);
        assertEq(dust, 1, "dust after 10 wei over 3 payees");
        fund(2);
        (, dust) = revShare.poolTotals(COMMUNITY, POOL);
        assertEq(dust, 0, "dust after 2 more wei");
        assertEq(revShare.balanceOf(address(0xA000)), 4, "a");
        assertEq(revShare.balanceOf(address(0xB000)), 4, "b");
        assertEq(revShare.balanceOf(address(0xC000)), 4, "c");
    }

    function test_fundRevertsOnPoolWithoutPayees() public {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = address(0);
        entries[2].payee = address(0);
        publish(entries);
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, POOL);
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NoPayees.selector, COMMUNITY, POOL));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, pin);
    }

    function test_fundRevertsOnUnknownPool() public {
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.NoPayees.selector, COMMUNITY, POOL));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, bytes32(0));
    }

    function test_fundRevertsWithoutValue() public {
        publish(sampleEntries());
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, POOL);
        vm.expectRevert(RevShare.NothingToFund.selector);
        revShare.fund(COMMUNITY, POOL, pin);
    }

    function test_fundPinnedToAnEarlierEntrySetReverts() public {
        publish(sampleEntries());
        (, bytes32 seen) = revShare.poolHead(COMMUNITY, POOL);
        RevShare.Entry[] memory redirected = sampleEntries();
        redirected[0].payee = address(0xBAD);
        publish(redirected);
        (, bytes32 last) = revShare.poolHead(COMMUNITY, POOL);
        vm.prank(FUNDER);
        vm.expectRevert(abi.encodeWithSelector(RevShare.StalePin.selector, last, seen));
        revShare.fund{value: 1 ether}(COMMUNITY, POOL, seen);
        assertEq(address(revShare).balance, 0, "nothing was split by the set that landed first");
    }

    function test_aPayeeThatCouldNeverWithdrawIsRefused() public {
        address[3] memory unusable = [address(revShare), address(0x4), address(0x1ff)];
        for (uint256 i; i < unusable.length; ++i) {
            RevShare.Entry[] memory entries = sampleEntries();
            entries[2].payee = unusable[i];
            RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 1, bytes32(0), entries);
            bytes memory sigs = signSorted(keys, digestOf(report));
            vm.expectRevert(abi.encodeWithSelector(RevShare.PayeeUnusable.selector, uint256(2), unusable[i]));
            revShare.submitPoolReport(report, sigs);
        }
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 0, "no report landed");
    }

    function test_withdrawToPaysAnotherAddress() public {
        RefusingPayee payee = new RefusingPayee();
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = address(payee);
        publish(entries);
        fund(7 ether);
        address wallet = address(0xB0B0);
        vm.expectEmit(address(revShare));
        emit RevShare.Withdrawn(address(payee), wallet, 5 ether);
        vm.prank(address(payee));
        uint256 paid = revShare.withdrawTo(wallet);
        assertEq(paid, 5 ether, "paid");
        assertEq(wallet.balance, 5 ether, "the named account got the ETH");
        assertEq(revShare.balanceOf(address(payee)), 0, "the payee's balance is spent");
    }

    function test_withdrawToAnAccountThatCannotBePaidReverts() public {
        publish(sampleEntries());
        fund(7 ether);
        address alice = address(0xA11CE);
        address[3] memory unusable = [address(0), address(revShare), address(0x2)];
        for (uint256 i; i < unusable.length; ++i) {
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(RevShare.UnusableRecipient.selector, unusable[i]));
            revShare.withdrawTo(unusable[i]);
        }
        assertEq(revShare.balanceOf(alice), 5 ether, "the balance is kept");
    }

    function test_withdrawPaysTheBalanceOnceAndZeroesIt() public {
        publish(sampleEntries());
        fund(7 ether);
        address alice = address(0xA11CE);
        vm.prank(alice);
        uint256 paid = revShare.withdraw();
        assertEq(paid, 5 ether, "paid");
        assertEq(alice.balance, 5 ether, "alice's ETH");
        assertEq(revShare.balanceOf(alice), 0, "alice's balance after");
        assertEq(address(revShare).balance, 2 ether, "contract keeps carol's share");
        vm.prank(alice);
        vm.expectRevert(RevShare.NothingToWithdraw.selector);
        revShare.withdraw();
    }

    function test_reentrantWithdrawGetsNothingMore() public {
        ReentrantPayee attacker = new ReentrantPayee(revShare);
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = address(attacker);
        publish(entries);
        fund(7 ether);
        attacker.withdraw();
        assertEq(attacker.received(), 5 ether, "attacker received its share once");
        assertTrue(!attacker.reentryPaid(), "re-entry paid nothing");
        assertEq(address(revShare).balance, 2 ether, "carol's share untouched");
    }

    function test_failedTransferRevertsAndKeepsTheBalance() public {
        RefusingPayee payee = new RefusingPayee();
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].payee = address(payee);
        publish(entries);
        fund(7 ether);
        vm.expectRevert(abi.encodeWithSelector(RevShare.WithdrawalFailed.selector, address(payee), 5 ether));
        payee.withdraw(revShare);
        assertEq(revShare.balanceOf(address(payee)), 5 ether, "balance kept");
    }

    function testFuzz_fundingConservesEveryWei(uint256 salt, uint256 count, uint256 a, uint256 b) public {
        count = bound(count, 1, 10);
        RevShare.Entry[] memory entries = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(salt, i)));
            address payee = raw % 3 == 0 && i != 0 ? address(0) : address(uint160(0x1000 + i));
            entries[i] = RevShare.Entry("https://ilp.example.com/p", uint96(bound(raw >> 8, 1, 1e24)), payee);
        }
        publish(entries);
        a = bound(a, 1, 100 ether);
        b = bound(b, 1, 100 ether);
        fund(a);
        fund(b);
        uint256 credited;
        for (uint256 i; i < count; ++i) {
            if (entries[i].payee != address(0)) credited += revShare.balanceOf(entries[i].payee);
        }
        (, uint256 dust) = revShare.poolTotals(COMMUNITY, POOL);
        assertEq(credited + dust, a + b, "credited + dust == funded");
        assertLe(dust, count, "dust below one wei per payee");
        assertEq(address(revShare).balance, a + b, "contract holds all funded ETH");
    }
}
